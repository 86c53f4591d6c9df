import connectPgSimple from '../dist/index.js';

export default connectPgSimple;
export declare const PGStore: typeof connectPgSimple.PGStore;
export type PGStore = connectPgSimple.PGStore;
export type PGStoreOptions = connectPgSimple.PGStoreOptions;
export type PGStoreMethods = connectPgSimple.PGStoreMethods;
export type ExpressPGStore = connectPgSimple.ExpressPGStore;
export type ExpressPGStoreConstructor = connectPgSimple.ExpressPGStoreConstructor;
export type ListedSessionData = connectPgSimple.ListedSessionData;
export type SessionModule = connectPgSimple.SessionModule;
export type SessionObject = connectPgSimple.SessionObject;
export type Callback<T = void> = connectPgSimple.Callback<T>;
export type PGStoreConstructor = connectPgSimple.PGStoreConstructor;
