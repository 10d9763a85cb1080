// The checks behind the policy pack, as plain functions over resource types and properties so
// they can be tested without the policy engine. Each returns violation messages; empty is compliant.
import { checkPinnedImage, cidrsCoverEverything } from "../components/validation";
import { findMissingSubsets } from "../components/references";
import { serviceFqdn } from "../components/routing";

/** A resource as policies see it: its type token and its properties. */
export interface ResourceView {
    type: string;
    name: string;
    props: Record<string, any>;
}

export const TYPES = {
    deployment: "kubernetes:apps/v1:Deployment",
    namespace: "kubernetes:core/v1:Namespace",
    service: "kubernetes:core/v1:Service",
    virtualService: "kubernetes:networking.istio.io/v1:VirtualService",
    destinationRule: "kubernetes:networking.istio.io/v1:DestinationRule",
    release: "kubernetes:helm.sh/v3:Release",
    authorizationPolicy: "kubernetes:security.istio.io/v1:AuthorizationPolicy",
    cluster: "gcp:container/cluster:Cluster",
    nodePool: "gcp:container/nodePool:NodePool",
};

/** Namespaces whose workloads are the mesh itself or the platform, not applications. */
const SYSTEM_NAMESPACES = new Set(["kube-system", "kube-public", "kube-node-lease", "istio-system", "istio-ingress", "gke-managed-system"]);

const ofType = (resources: ResourceView[], type: string) => resources.filter((r) => r.type === type);

/** Every route of every VirtualService names a subset that a DestinationRule for its host defines. */
export function routesNameExistingSubsets(resources: ResourceView[]): string[] {
    return findMissingSubsets([
        ...ofType(resources, TYPES.virtualService).map((r) => r.props as any),
        ...ofType(resources, TYPES.destinationRule).map((r) => r.props as any),
    ]);
}

/** Pods of a Deployment, as namespace and template labels. */
function podsOf(d: ResourceView) {
    return {
        namespace: d.props.metadata?.namespace ?? "default",
        labels: (d.props.spec?.template?.metadata?.labels ?? {}) as Record<string, string>,
        replicas: d.props.spec?.replicas ?? 1,
        name: d.props.metadata?.name ?? d.name,
    };
}

/**
 * Every subset that receives traffic (weight above zero) selects pods of Deployments with at least
 * `minReplicas` replicas in total: switching to a color scaled to zero is refused.
 */
export function trafficGoesToRunningPods(resources: ResourceView[], minReplicas: number): string[] {
    const problems: string[] = [];
    const deployments = ofType(resources, TYPES.deployment).map(podsOf);
    const rules = ofType(resources, TYPES.destinationRule).map((r) => r.props as any);
    for (const vs of ofType(resources, TYPES.virtualService)) {
        const namespace = vs.props.metadata?.namespace;
        for (const route of vs.props.spec?.http ?? []) {
            for (const { destination, weight } of route.route ?? []) {
                if (weight === 0 || destination?.subset === undefined) continue;
                const subset = rules.find((dr) => dr.spec?.host === destination.host)?.spec?.subsets?.find((s: any) => s.name === destination.subset);
                if (!subset) continue; // reported by the subset policy
                const selected = deployments.filter((d) => d.namespace === namespace &&
                    Object.entries(subset.labels ?? {}).every(([k, v]) => d.labels[k] === v));
                const replicas = selected.reduce((sum, d) => sum + d.replicas, 0);
                if (replicas < minReplicas) {
                    problems.push(`VirtualService ${namespace}/${vs.props.metadata?.name} route ${route.name ?? "(unnamed)"} sends traffic to subset ` +
                        `${destination.subset}, whose Deployments (${selected.map((d) => d.name).join(", ") || "none"}) have ${replicas} replica(s); ` +
                        `at least ${minReplicas} required: scale the color up before switching to it`);
                }
            }
        }
    }
    return problems;
}

/** Namespaces holding workloads have sidecar injection on (istio-injection=enabled or istio.io/rev). */
export function workloadNamespacesInjected(resources: ResourceView[]): string[] {
    const labelsByNamespace = new Map(ofType(resources, TYPES.namespace).map((n) => [n.props.metadata?.name, n.props.metadata?.labels ?? {}]));
    const problems: string[] = [];
    const workloadNamespaces = new Set(ofType(resources, TYPES.deployment).map((d) => podsOf(d).namespace));
    for (const ns of workloadNamespaces) {
        if (SYSTEM_NAMESPACES.has(ns)) continue;
        const labels = labelsByNamespace.get(ns);
        if (labels === undefined) continue; // a namespace managed elsewhere
        const injected = labels["istio-injection"] === "enabled" || (labels["istio.io/rev"] !== undefined && labels["istio-injection"] === undefined);
        if (!injected) problems.push(`Namespace ${ns} runs workloads but has no sidecar injection: label it istio-injection=enabled (or istio.io/rev alone)`);
    }
    return problems;
}

/** The revisions of the istiod releases the stack installs ("" is the default revision). */
function installedRevisions(resources: ResourceView[]): string[] {
    return ofType(resources, TYPES.release)
        .filter((r) => /(^|\/)istiod$/.test(r.props.chart ?? "") || /istio-discovery$/.test(r.props.chart ?? ""))
        .map((r) => r.props.values?.revision ?? "");
}

/**
 * Injection labels name an istiod that exists: `istio.io/rev: <rev>` a revision the stack installs
 * or that `declared` lists (the pack's `istioRevisions`, for a mesh managed elsewhere), and
 * `istio-injection: enabled` the default revision. Without an installed istiod and without
 * declared revisions there is nothing to compare against, and nothing is reported.
 */
export function injectedRevisionsServed(resources: ResourceView[], declared: string[]): string[] {
    const installed = installedRevisions(resources);
    if (installed.length === 0 && declared.length === 0) return [];
    const known = new Set([...installed, ...declared.map((r) => (r === "default" ? "" : r))]);
    const listed = [...known].map((r) => (r === "" ? "default" : r)).join(", ");
    const problems: string[] = [];
    for (const ns of ofType(resources, TYPES.namespace)) {
        const labels = ns.props.metadata?.labels ?? {};
        const revision: string | undefined = labels["istio-injection"] === "enabled" ? "" : labels["istio.io/rev"];
        if (revision !== undefined && !known.has(revision)) {
            problems.push(`Namespace ${ns.props.metadata?.name} is injected by revision ${revision === "" ? "default (istio-injection=enabled)" : revision}, ` +
                `but no istiod of that revision is installed or declared (known: ${listed}): its pods would start without a sidecar`);
        }
    }
    return problems;
}

/** Ports of Services that VirtualService HTTP routes send to are named http* or carry appProtocol http*. */
export function routedServicePortsDeclareHttp(resources: ResourceView[]): string[] {
    const routedHosts = new Set(ofType(resources, TYPES.virtualService).flatMap((vs) =>
        (vs.props.spec?.http ?? []).flatMap((r: any) => (r.route ?? []).map((d: any) => d.destination?.host))));
    const problems: string[] = [];
    for (const svc of ofType(resources, TYPES.service)) {
        const fqdn = serviceFqdn(svc.props.metadata?.name, svc.props.metadata?.namespace ?? "default");
        if (!routedHosts.has(fqdn)) continue;
        for (const port of svc.props.spec?.ports ?? []) {
            const named = typeof port.name === "string" && /^(http|http2|grpc)(-.*)?$/.test(port.name);
            const declared = typeof port.appProtocol === "string" && /^(http|http2|grpc|kubernetes\.io\/h2c)/.test(port.appProtocol);
            if (!named && !declared) {
                problems.push(`Service ${svc.props.metadata?.namespace}/${svc.props.metadata?.name} port ${port.port} is routed by a VirtualService but named ` +
                    `${JSON.stringify(port.name)} without appProtocol: Istio treats it as opaque TCP and ignores the HTTP routes; name it http or http-*, or set appProtocol: http`);
            }
        }
    }
    return problems;
}

/**
 * Header routes that pick a color (a header whose exact value is the subset it routes to) are
 * guarded by a DENY AuthorizationPolicy on that header: otherwise anyone who can reach the gateway
 * reaches the idle color, the build that is not released yet.
 */
export function colorHeaderRestricted(resources: ResourceView[]): string[] {
    const guarded = new Set(ofType(resources, TYPES.authorizationPolicy)
        .filter((p) => p.props.spec?.action === "DENY")
        .flatMap((p) => (p.props.spec?.rules ?? []).flatMap((rule: any) => (rule.when ?? []).map((c: any) => c.key))));
    const problems: string[] = [];
    for (const vs of ofType(resources, TYPES.virtualService)) {
        const headers = new Set<string>((vs.props.spec?.http ?? []).flatMap((route: any) => (route.match ?? []).flatMap((m: any) =>
            Object.entries(m.headers ?? {}).filter(([, sm]: [string, any]) => (route.route ?? []).some((d: any) => d.destination?.subset === sm?.exact))
                .map(([name]) => name))));
        for (const header of headers) {
            if (!guarded.has(`request.headers[${header}]`)) {
                problems.push(`VirtualService ${vs.props.metadata?.namespace}/${vs.props.metadata?.name} sends requests carrying ${header} to the color they name, ` +
                    "and no AuthorizationPolicy restricts that header: anyone who reaches the gateway reaches the idle color (set previewAccess: restricted)");
            }
        }
    }
    return problems;
}

/** Every container of a pod spec, init containers included, with where it sits. */
function containersOf(props: Record<string, any>): { name: string; container: any }[] {
    const pod = props.spec?.template?.spec ?? {};
    return [...(pod.initContainers ?? []), ...(pod.containers ?? [])].map((c: any) => ({ name: c.name, container: c }));
}

/** Images are pinned to a tag other than latest, or a digest. */
export function imagesPinned(props: Record<string, any>): string[] {
    return containersOf(props).flatMap(({ name, container }) =>
        checkPinnedImage(`container ${name} image`, container.image).map((p) => `${p.setting} ${p.message}`));
}

/** Containers request CPU and memory (the scheduler places pods by requests). */
export function resourceRequestsSet(props: Record<string, any>): string[] {
    return containersOf(props).filter(({ container }) => !container.resources?.requests?.cpu || !container.resources?.requests?.memory)
        .map(({ name }) => `container ${name} sets no CPU and memory requests`);
}

/** Containers set CPU and memory limits. */
export function resourceLimitsSet(props: Record<string, any>): string[] {
    return containersOf(props).filter(({ container }) => !container.resources?.limits?.cpu || !container.resources?.limits?.memory)
        .map(({ name }) => `container ${name} sets no CPU and memory limits`);
}

/** Containers are not privileged and cannot escalate privileges. */
export function notPrivileged(props: Record<string, any>): string[] {
    return containersOf(props).flatMap(({ name, container }) => [
        ...(container.securityContext?.privileged === true ? [`container ${name} runs privileged`] : []),
        ...(container.securityContext?.allowPrivilegeEscalation !== false ? [`container ${name} does not set allowPrivilegeEscalation: false`] : []),
    ]);
}

/** The GKE cluster keeps Workload Identity, shielded nodes and a release channel. */
export function clusterHardened(props: Record<string, any>): string[] {
    const problems: string[] = [];
    if (!props.workloadIdentityConfig?.workloadPool) problems.push("Workload Identity is off: set workloadIdentityConfig.workloadPool to <project>.svc.id.goog");
    if (props.enableShieldedNodes !== true) problems.push("shielded nodes are off: set enableShieldedNodes: true");
    const channel = props.releaseChannel?.channel;
    if (!channel || channel === "UNSPECIFIED") problems.push("the cluster is on no release channel: set releaseChannel.channel (RAPID, REGULAR, STABLE or EXTENDED)");
    return problems;
}

/** Node pools repair their nodes automatically. */
export function nodePoolAutoRepairs(props: Record<string, any>): string[] {
    return props.management?.autoRepair === true ? [] : ["auto-repair is off: set management.autoRepair: true"];
}

/**
 * A DENY policy that exempts callers by address (`notRemoteIpBlocks`, `notIpBlocks`) does not
 * exempt every address: blocks that add up to all of IPv4 (`0.0.0.0/0`, or `0.0.0.0/1` with
 * `128.0.0.0/1`) or all of IPv6 deny nobody, which is previewAccess open under another name.
 */
export function previewSourcesNotEveryone(resources: ResourceView[]): string[] {
    const problems: string[] = [];
    for (const policy of ofType(resources, TYPES.authorizationPolicy).filter((p) => p.props.spec?.action === "DENY")) {
        for (const rule of policy.props.spec?.rules ?? []) {
            for (const from of rule.from ?? []) {
                for (const field of ["notRemoteIpBlocks", "notIpBlocks"]) {
                    const blocks = from.source?.[field];
                    if (Array.isArray(blocks) && cidrsCoverEverything(blocks)) {
                        problems.push(`AuthorizationPolicy ${policy.props.metadata?.namespace}/${policy.props.metadata?.name} exempts ${field} ${JSON.stringify(blocks)}, ` +
                            "which together cover every address: the DENY refuses nobody, and anyone on the internet reaches the idle color (list only your testers' addresses in previewSourceCidrs)");
                    }
                }
            }
        }
    }
    return problems;
}
