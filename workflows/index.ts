export * from './probe';
export * from './features';
