// The policies of the pack. Kept apart from index.ts, which constructs the PolicyPack (and so
// starts serving the engine), so tests can run every policy directly.
import { EnforcementLevel, Policies, PolicyResource, ReportViolation, ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import * as rules from "./rules";

/** Policy pack configuration. */
export interface PackConfig {
    /** Minimum replicas behind every subset that receives traffic. */
    minReplicas: number;
    /** Istio revisions served by a mesh this stack does not install ("default" for istio-injection=enabled). */
    istioRevisions: string[];
}

const view = (r: PolicyResource): rules.ResourceView => ({ type: r.type, name: r.name, props: r.props });

function stackPolicy(name: string, description: string, check: (resources: rules.ResourceView[], config: PackConfig) => string[],
    enforcementLevel: EnforcementLevel = "mandatory", configSchema?: StackValidationPolicy["configSchema"]): StackValidationPolicy {
    return {
        name,
        description,
        enforcementLevel,
        configSchema,
        validateStack: (args, reportViolation: ReportViolation) => {
            const config = { minReplicas: 1, istioRevisions: [], ...args.getConfig<Partial<PackConfig>>() };
            for (const message of check(args.resources.map(view), config)) reportViolation(message);
        },
    };
}

function resourcePolicy(name: string, description: string, types: string[], check: (props: Record<string, any>) => string[],
    enforcementLevel: EnforcementLevel = "mandatory"): ResourceValidationPolicy {
    return {
        name,
        description,
        enforcementLevel,
        validateResource: (args, reportViolation) => {
            if (!types.includes(args.type)) return;
            for (const message of check(args.props)) reportViolation(message);
        },
    };
}

const WORKLOADS = [rules.TYPES.deployment, "kubernetes:apps/v1:StatefulSet", "kubernetes:apps/v1:DaemonSet"];

/** Every policy of the pack. */
export const policies: Policies = [
    stackPolicy("virtualservice-subsets-exist",
        "Every VirtualService route (header routes and the catch-all) names a subset that a DestinationRule for the same host defines.",
        (resources) => rules.routesNameExistingSubsets(resources)),
    stackPolicy("traffic-goes-to-running-pods",
        "Every subset that receives traffic is backed by Deployments with at least minReplicas replicas: switching to a color scaled to zero is refused.",
        (resources, config) => rules.trafficGoesToRunningPods(resources, config.minReplicas),
        "mandatory",
        { properties: { minReplicas: { type: "integer", minimum: 1, default: 1 } } }),
    stackPolicy("workload-namespaces-injected",
        "Namespaces that run workloads have Istio sidecar injection on.",
        (resources) => rules.workloadNamespacesInjected(resources)),
    stackPolicy("injected-revision-installed",
        "Namespaces labelled for sidecar injection name an Istio revision that the stack installs or that the pack config istioRevisions declares.",
        (resources, config) => rules.injectedRevisionsServed(resources, config.istioRevisions),
        "mandatory",
        { properties: { istioRevisions: { type: "array", items: { type: "string" }, default: [] } } }),
    stackPolicy("color-header-restricted",
        "Header routes that pick a color are guarded by an Istio AuthorizationPolicy, so not everyone on the internet can reach the idle color.",
        (resources) => rules.colorHeaderRestricted(resources),
        "advisory"),
    stackPolicy("preview-sources-not-everyone",
        "A DENY AuthorizationPolicy does not exempt every address (0.0.0.0/0 or ranges adding up to it): that is open preview access under another name.",
        (resources) => rules.previewSourcesNotEveryone(resources),
        "advisory"),
    stackPolicy("routed-service-ports-declare-http",
        "Service ports that VirtualService HTTP routes target are named http/http-* or carry appProtocol, so Istio applies HTTP routing.",
        (resources) => rules.routedServicePortsDeclareHttp(resources)),
    resourcePolicy("images-pinned", "Container images are pinned to a tag other than latest, or to a digest.", WORKLOADS, rules.imagesPinned),
    resourcePolicy("resource-requests-set", "Containers request CPU and memory.", WORKLOADS, rules.resourceRequestsSet),
    resourcePolicy("resource-limits-set", "Containers set CPU and memory limits.", WORKLOADS, rules.resourceLimitsSet, "advisory"),
    resourcePolicy("containers-not-privileged", "Containers are not privileged and do not allow privilege escalation.", WORKLOADS, rules.notPrivileged),
    resourcePolicy("gke-cluster-hardened", "The GKE cluster keeps Workload Identity, shielded nodes and a release channel.", [rules.TYPES.cluster], rules.clusterHardened),
    resourcePolicy("gke-node-pool-auto-repair", "GKE node pools repair their nodes automatically.", [rules.TYPES.nodePool], rules.nodePoolAutoRepairs),
];
