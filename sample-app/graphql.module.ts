import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import type { DynamicModule } from '@nestjs/common';
import { GraphQLModule } from '@nestjs/graphql';
import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius';
import { ApiKeySubscriptions } from 'nestjs-api-key';
import { AccountResolver, typeDefs } from './account.resolver.js';

/**
 * The GraphQL endpoint at /graphql: Apollo on Express, Mercurius on Fastify, subscriptions over
 * graphql-ws authenticated by `ApiKeySubscriptions` (the key in the connection_init payload).
 */
export function graphqlModule(adapter: string): DynamicModule[] {
  const graphql =
    adapter === 'fastify'
      ? GraphQLModule.forRootAsync<MercuriusDriverConfig>({
          driver: MercuriusDriver,
          inject: [ApiKeySubscriptions],
          useFactory: (subscriptions: ApiKeySubscriptions) => ({
            typeDefs,
            subscription: subscriptions.mercurius(),
          }),
        })
      : GraphQLModule.forRootAsync<ApolloDriverConfig>({
          driver: ApolloDriver,
          inject: [ApiKeySubscriptions],
          useFactory: (subscriptions: ApiKeySubscriptions) => ({
            typeDefs,
            subscriptions: { 'graphql-ws': subscriptions.graphqlWs() },
          }),
        });
  return [graphql, { module: GraphqlResolvers, providers: [AccountResolver] }];
}

/** Holds the resolvers. */
class GraphqlResolvers {}
