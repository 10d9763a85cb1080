// The package's public API: components and the pure builders they are made of.
export * from "./blue-green-environment";
export * from "./blue-green-service";
export * from "./cert-manager";
export * from "./delivery";
export * from "./external-services";
export * from "./gke-cluster";
export * from "./istio-mesh";
export * from "./preview-access";
export * from "./references";
export * from "./routing";
export * from "./stack-config";
export * from "./validation";
export * from "./workload";
