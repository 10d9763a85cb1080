// The package's public API, listed on purpose: the components and their arguments, the enums and
// defaults a program needs to fill those arguments, and the pure builders we support for tests
// and tooling. Everything else in components/ is internal and may change in any release.

// Components.
export { BlueGreenEnvironment } from "./blue-green-environment";
export { BlueGreenService } from "./blue-green-service";
export { CertManager } from "./cert-manager";
export { GkeCluster } from "./gke-cluster";
export { IstioMesh } from "./istio-mesh";

// Their arguments and the types of argument fields.
export type { BlueGreenEnvironmentArgs } from "./blue-green-environment";
export type { BlueGreenServiceArgs, BlueGreenServiceOptions, ColorsArgs, CurlCommands, WorkloadArgs } from "./blue-green-service";
export type { CertManagerArgs } from "./cert-manager";
export type { ExistingNetwork, GkeClusterArgs, ImageRepository, NetworkRanges, NodePoolSettings } from "./gke-cluster";
export type { IstioMeshArgs } from "./istio-mesh";
export type { PreviewAccess, PreviewJwt, PreviewJwtClaim } from "./preview-access";
export type { CertificateRequest, Resilience, TlsArgs, WorkloadTlsArgs } from "./delivery";
export type { ExternalService, ExternalServicePort } from "./external-services";
export type {
    ConnectionPool, GatewayTls, HttpConnectionPool, OutlierDetection, RetryPolicy, StringMatch, TargetedRoute, TcpConnectionPool, TrafficWeights,
} from "./routing";
export type { ColorSpec, ContainerResources, ResourceQuantities } from "./workload";
export type { HealthGateArgs } from "./health-gate";
export type { HealthCheck } from "./health-verdict";

// Enums: each an object of named values and a type of the same name (what the schema's enums are).
export { ReleaseChannel } from "./gke-cluster";
export { IstioPlatform, MtlsMode } from "./istio-mesh";
export { PreviewAccessMode } from "./preview-access";
export { IssuerKind } from "./delivery";
export { ServiceEntryLocation, ServiceEntryProtocol, ServiceEntryResolution } from "./external-services";
export { DrainAction } from "./rollout";
export { Color, LoadBalancerPolicy } from "./routing";
export { PodSecurityLevel } from "./workload";
export { HealthGateMode } from "./health-verdict";

// Allowed values and defaults.
export { BLUE_GREEN_DEFAULTS } from "./blue-green-service";
export { DEFAULT_CLUSTER_IDENTIFIER } from "./blue-green-environment";
export { CERT_MANAGER_DEFAULTS } from "./cert-manager";
export { GKE_DEFAULTS, RELEASE_CHANNELS } from "./gke-cluster";
export { DEFAULT_ISTIO_VERSION, ISTIO_DEFAULTS, ISTIO_PLATFORMS, MIN_ISTIO_VERSION, MTLS_MODES } from "./istio-mesh";
export { DEFAULT_PREVIEW_ACCESS, PREVIEW_ACCESS_MODES } from "./preview-access";
export { DEFAULT_RESILIENCE } from "./delivery";
export { SERVICE_ENTRY_PROTOCOLS } from "./external-services";
export { DEFAULT_DRAIN_DELAY_SECONDS, DEFAULT_ROLLOUT_TIMEOUT_SECONDS, DrainActions } from "./rollout";
export { COLORS, LOAD_BALANCER_POLICIES } from "./routing";
export { DEFAULT_RESOURCES, POD_SECURITY_LEVELS } from "./workload";
export { HEALTH_GATE_DEFAULTS, HEALTH_GATE_MODES, MIN_GATE_WINDOW_SECONDS } from "./health-verdict";

// Errors: bad arguments throw a ConfigError listing every problem, before anything is declared.
export { ConfigError } from "./validation";
export type { ConfigProblem } from "./validation";

// Pure builders and the routing evaluator: what the components declare, without an engine.
export { curlCommands } from "./blue-green-service";
export { buildServiceEntrySpec } from "./external-services";
export { rolloutOrder, trafficReceivers } from "./rollout";
export { authorize, buildGatewayPreviewPolicy, buildMeshPreviewPolicy, buildRequestAuthenticationSpec, gatewayHostPatterns } from "./preview-access";
export type { AccessRequest, AuthorizationPolicySpec, GatewayScope } from "./preview-access";
export { buildDestinationRuleSpec, buildGatewaySpec, buildVirtualServiceSpec, describeRouting, routeRequest } from "./routing";
export type { RequestInfo, RoutingDecision, RoutingTableRow, VirtualServiceInputs, VirtualServiceSpec } from "./routing";
export { buildDeploymentSpec, buildServiceSpec } from "./workload";
export type { DeploymentInputs } from "./workload";
export { colorsGainingTraffic, detectRollback } from "./traffic-gain";
export { gateVerdict } from "./health-verdict";
