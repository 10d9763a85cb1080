// The package's public API: components and the pure builders they are made of.
export * from "./blue-green-service";
export * from "./external-services";
export * from "./routing";
export * from "./stack-config";
export * from "./validation";
export * from "./workload";
export * from "./references";
