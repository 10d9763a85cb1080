// Cross-object reference checks over rendered Kubernetes/Istio objects: every name one object uses
// must belong to an object that is declared. A dangling name is silent on a real cluster (a
// VirtualService bound to a missing Gateway just admits nothing; a missing subset returns 503s).
import { serviceFqdn } from "./routing";

/** A rendered Kubernetes object: what `kubectl apply` would receive. */
export interface KubernetesObject {
    apiVersion: string;
    kind: string;
    metadata: { name: string; namespace?: string; labels?: Record<string, string> };
    spec?: any;
}

function named(objects: KubernetesObject[], kind: string): KubernetesObject[] {
    return objects.filter((o) => o.kind === kind);
}

/** Every destination of a VirtualService route (mirrors included), with the route's name. */
function routeDestinations(vs: KubernetesObject): { route: string; host: string; subset?: string }[] {
    const routes = [...(vs.spec?.http ?? []), ...(vs.spec?.tcp ?? []), ...(vs.spec?.tls ?? [])];
    return routes.flatMap((route: any) => [...(route.route ?? []), ...(route.mirror ? [{ destination: route.mirror }] : [])]
        .map(({ destination }: any) => ({ route: route.name ?? "(unnamed)", host: destination.host, subset: destination.subset })));
}

/**
 * Lists every VirtualService route that names a subset no DestinationRule for its host defines:
 * such a route returns 503s (Istio's make-before-break rule).
 */
export function findMissingSubsets(objects: KubernetesObject[]): string[] {
    const subsetsByHost = new Map<string, Set<string>>();
    for (const rule of named(objects, "DestinationRule")) {
        const subsets = subsetsByHost.get(rule.spec?.host) ?? new Set<string>();
        for (const s of rule.spec?.subsets ?? []) subsets.add(s.name);
        subsetsByHost.set(rule.spec?.host, subsets);
    }
    return named(objects, "VirtualService").flatMap((vs) => routeDestinations(vs)
        .filter((d) => d.subset !== undefined && !subsetsByHost.get(d.host)?.has(d.subset))
        .map((d) => `VirtualService ${vs.metadata.namespace}/${vs.metadata.name}: route ${d.route} names subset ${d.subset}, which no DestinationRule for ${d.host} defines`));
}

/**
 * Lists every reference that does not resolve to a declared object: VirtualService gateways,
 * destination hosts and subsets, DestinationRule hosts, and Service selectors or DestinationRule
 * subsets that match no declared pods. Returns human-readable problems; empty means all resolve.
 */
export function findDanglingReferences(objects: KubernetesObject[]): string[] {
    const problems: string[] = [];
    const services = new Map(named(objects, "Service").map((s) => [serviceFqdn(s.metadata.name, s.metadata.namespace ?? "default"), s]));
    const gateways = new Set(named(objects, "Gateway").map((g) => `${g.metadata.namespace}/${g.metadata.name}`));
    const serviceEntryHosts = new Set(named(objects, "ServiceEntry").flatMap((e) => e.spec?.hosts ?? []));
    const declaredHost = (host: string) => services.has(host) || serviceEntryHosts.has(host);
    for (const rule of named(objects, "DestinationRule")) {
        const host: string = rule.spec?.host;
        if (!declaredHost(host)) problems.push(`DestinationRule ${rule.metadata.namespace}/${rule.metadata.name}: host ${host} is not a declared Service or ServiceEntry`);
    }
    for (const vs of named(objects, "VirtualService")) {
        const where = `VirtualService ${vs.metadata.namespace}/${vs.metadata.name}`;
        for (const gw of vs.spec?.gateways ?? []) {
            const qualified = gw.includes("/") ? gw : `${vs.metadata.namespace}/${gw}`;
            if (gw !== "mesh" && !gateways.has(qualified)) problems.push(`${where}: gateway ${gw} is not a declared Gateway`);
        }
        for (const d of routeDestinations(vs)) {
            if (!declaredHost(d.host)) problems.push(`${where}: route ${d.route} sends to host ${d.host}, which is not a declared Service`);
        }
    }
    problems.push(...findMissingSubsets(objects));
    const podLabels = named(objects, "Deployment").map((d) => ({
        namespace: d.metadata.namespace,
        labels: (d.spec?.template?.metadata?.labels ?? {}) as Record<string, string>,
    }));
    for (const service of services.values()) {
        const selector: Record<string, string> = service.spec?.selector ?? {};
        const matches = podLabels.some((p) => p.namespace === service.metadata.namespace &&
            Object.entries(selector).every(([k, v]) => p.labels[k] === v));
        if (!matches) problems.push(`Service ${service.metadata.namespace}/${service.metadata.name}: selector ${JSON.stringify(selector)} matches no declared pods`);
    }
    for (const rule of named(objects, "DestinationRule")) {
        for (const subset of rule.spec?.subsets ?? []) {
            const matches = podLabels.some((p) => Object.entries(subset.labels ?? {}).every(([k, v]) => p.labels[k] === v));
            if (services.has(rule.spec.host) && !matches) {
                problems.push(`DestinationRule ${rule.metadata.namespace}/${rule.metadata.name}: subset ${subset.name} selects no declared pods`);
            }
        }
    }
    return problems;
}
