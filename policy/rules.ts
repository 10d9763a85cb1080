// The checks behind the policy pack, as plain functions over resource types and properties so
// they can be tested without the policy engine. Each returns violation messages; empty is compliant.
import { checkPinnedImage, cidrsCoverEverything } from "../components/validation";
import { findMissingSubsets } from "../components/references";
import { gatewayHostPatterns } from "../components/preview-access";
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
    gateway: "kubernetes:networking.istio.io/v1:Gateway",
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
 * `istio-injection: enabled` the default revision; so do pod templates labelled `istio.io/rev`
 * (colors pinned to a revision). Without an installed istiod and without
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
    // A pod template's own revision label injects it in a namespace without injection labels (a pinned color).
    for (const d of ofType(resources, TYPES.deployment)) {
        const revision: string | undefined = d.props.spec?.template?.metadata?.labels?.["istio.io/rev"];
        const name = `${d.props.metadata?.namespace}/${d.props.metadata?.name}`;
        if (revision !== undefined && !known.has(revision === "default" ? "" : revision)) {
            problems.push(`Deployment ${name} pins its pods to revision ${revision}, but no istiod of that revision is installed or declared (known: ${listed}): ` +
                "its pods would start without a sidecar");
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

/** The Gateways a VirtualService binds (`mesh` is not one), each found among the resources or not. */
function boundGateways(vs: ResourceView, resources: ResourceView[]): { ref: string; gateway?: ResourceView }[] {
    const namespace = vs.props.metadata?.namespace ?? "default";
    return (vs.props.spec?.gateways ?? []).filter((ref: string) => ref !== "mesh").map((ref: string) => {
        const [gatewayNamespace, name] = ref.includes("/") ? ref.split("/") : [namespace, ref];
        const gateway = ofType(resources, TYPES.gateway).find((g) => (g.props.metadata?.namespace ?? "default") === gatewayNamespace && g.props.metadata?.name === name);
        return { ref: `${gatewayNamespace}/${name}`, gateway };
    });
}

/** The header name and exact values of the header routes that send a request to the color it names. */
function colorHeaderRoutes(vs: ResourceView): Map<string, Set<string>> {
    const routes = new Map<string, Set<string>>();
    for (const route of vs.props.spec?.http ?? []) {
        for (const match of route.match ?? []) {
            for (const [name, value] of Object.entries(match.headers ?? {}) as [string, any][]) {
                if (!(route.route ?? []).some((d: any) => d.destination?.subset === value?.exact)) continue;
                routes.set(name, (routes.get(name) ?? new Set()).add(value.exact));
            }
        }
    }
    return routes;
}

/** The VirtualService's hosts that the Gateway's servers admit (`*`, or the same name, optionally `<namespace>/`-qualified). */
function hostsThroughGateway(vs: ResourceView, gateway: ResourceView): string[] {
    const admitted = new Set<string>((gateway.props.spec?.servers ?? []).flatMap((s: any) => (s.hosts ?? []).map((h: string) => h.replace(/^[^/]*\//, ""))));
    return (vs.props.spec?.hosts ?? []).filter((h: string) => admitted.has("*") || admitted.has(h));
}

/**
 * A DENY AuthorizationPolicy at the gateway's pods (its selector a part of the Gateway's) with a
 * rule that refuses every routed value of the header for every Host form the gateway routes to the
 * VirtualService, whatever else the request carries (the rule's only conditions are on that header;
 * its sources may exempt allowed callers).
 */
function guardsAtGateway(policy: ResourceView, gateway: ResourceView, hosts: string[], header: string, values: Set<string>): boolean {
    const spec = policy.props.spec ?? {};
    const policyLabels = Object.entries(spec.selector?.matchLabels ?? {});
    const gatewayLabels: Record<string, string> = gateway.props.spec?.selector ?? {};
    if (spec.action !== "DENY" || policyLabels.length === 0 || !policyLabels.every(([k, v]) => gatewayLabels[k] === v)) return false;
    const key = `request.headers[${header}]`;
    return (spec.rules ?? []).some((rule: any) => {
        const conditions: any[] = rule.when ?? [];
        const guardedHosts = rule.to === undefined ? ["*"] : (rule.to as any[]).flatMap((t) => t.operation?.hosts ?? ["*"]);
        return conditions.length > 0 && conditions.every((c) => c.key === key && c.notValues === undefined) &&
            [...values].every((v) => conditions.every((c) => (c.values ?? []).includes(v))) &&
            (guardedHosts.includes("*") || hosts.every((h) => guardedHosts.includes(h)));
    });
}

/**
 * Header routes that pick a color (a header whose exact value is the subset it routes to) are
 * guarded at every ingress Gateway the VirtualService binds, by a DENY AuthorizationPolicy on that
 * header at the gateway's pods: otherwise anyone who can reach the gateway reaches the idle color,
 * the build that is not released yet. A policy elsewhere (at the workload, for in-mesh callers)
 * does not stop a request at the gateway.
 */
export function colorHeaderRestricted(resources: ResourceView[]): string[] {
    const policies = ofType(resources, TYPES.authorizationPolicy);
    const problems: string[] = [];
    for (const vs of ofType(resources, TYPES.virtualService)) {
        const name = `VirtualService ${vs.props.metadata?.namespace}/${vs.props.metadata?.name}`;
        for (const [header, values] of colorHeaderRoutes(vs)) {
            for (const { ref, gateway } of boundGateways(vs, resources)) {
                const hosts = gateway ? gatewayHostPatterns(hostsThroughGateway(vs, gateway), (gateway.props.spec?.servers ?? []).map((s: any) => s.port?.number)) : [];
                if (gateway && policies.some((p) => guardsAtGateway(p, gateway, hosts, header, values))) continue;
                problems.push(`${name} sends requests carrying ${header} to the color they name, and ` + (gateway
                    ? `no DENY AuthorizationPolicy at the pods of Gateway ${ref} restricts that header for every host form it routes (${hosts.join(", ")}): ` +
                        "anyone who reaches the gateway reaches the idle color (set previewAccess: restricted)"
                    : `its Gateway ${ref} is not in this stack, so no policy at the gateway's pods can be checked: anyone who reaches the gateway may reach the idle color`));
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
