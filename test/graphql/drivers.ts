import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { GraphQLModule } from '@nestjs/graphql';
import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius';
import { ApiKeySubscriptions } from 'nestjs-api-key';
import { platforms } from '../support/platforms.js';
import { typeDefs } from './graphql-app.js';

/**
 * The two GraphQL drivers the suites run on, each on its platform: Apollo on Express and
 * Mercurius on Fastify. `subscriptions` holds the driver's graphql-ws options, if any.
 */
export const drivers = [
  {
    name: 'apollo',
    platform: platforms[0],
    module: (extra: Partial<ApolloDriverConfig> = {}) =>
      GraphQLModule.forRoot<ApolloDriverConfig>({
        driver: ApolloDriver,
        typeDefs,
        fieldResolverEnhancers: ['guards'],
        ...extra,
      }),
    /** The module with options built from the injected {@link ApiKeySubscriptions} (the ApiKeyModule must be global). */
    moduleAsync: (extra: (subscriptions: ApiKeySubscriptions) => Partial<ApolloDriverConfig>) =>
      GraphQLModule.forRootAsync<ApolloDriverConfig>({
        driver: ApolloDriver,
        inject: [ApiKeySubscriptions],
        useFactory: (subscriptions: ApiKeySubscriptions) => ({
          typeDefs,
          fieldResolverEnhancers: ['guards'],
          ...extra(subscriptions),
        }),
      }),
  },
  {
    name: 'mercurius',
    platform: platforms[1],
    module: (extra: Partial<MercuriusDriverConfig> = {}) =>
      GraphQLModule.forRoot<MercuriusDriverConfig>({
        driver: MercuriusDriver,
        typeDefs,
        fieldResolverEnhancers: ['guards'],
        ...extra,
      }),
    /** The module with options built from the injected {@link ApiKeySubscriptions} (the ApiKeyModule must be global). */
    moduleAsync: (extra: (subscriptions: ApiKeySubscriptions) => Partial<MercuriusDriverConfig>) =>
      GraphQLModule.forRootAsync<MercuriusDriverConfig>({
        driver: MercuriusDriver,
        inject: [ApiKeySubscriptions],
        useFactory: (subscriptions: ApiKeySubscriptions) => ({
          typeDefs,
          fieldResolverEnhancers: ['guards'],
          ...extra(subscriptions),
        }),
      }),
  },
] as const;

/** One of {@link drivers}. */
export type Driver = (typeof drivers)[number];
