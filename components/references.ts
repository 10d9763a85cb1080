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

/**
 * Lists every reference that does not resolve to a declared object: VirtualService gateways and
 * destination hosts/subsets, DestinationRule hosts, Service selectors with no pods, and
 * ServiceEntries without hosts. Returns human-readable problems; empty means all resolve.
 */
export function findDanglingReferences(objects: KubernetesObject[]): string[] {
    const problems: string[] = [];
    const services = new Map(named(objects, "Service").map((s) => [serviceFqdn(s.metadata.name, s.metadata.namespace ?? "default"), s]));
    const gateways = new Set(named(objects, "Gateway").map((g) => `${g.metadata.namespace}/${g.metadata.name}`));
    const serviceEntryHosts = new Set(named(objects, "ServiceEntry").flatMap((e) => e.spec?.hosts ?? []));
    const subsetsByHost = new Map<string, Set<string>>();
    for (const rule of named(objects, "DestinationRule")) {
        const host: string = rule.spec?.host;
        const where = `DestinationRule ${rule.metadata.namespace}/${rule.metadata.name}`;
        if (!services.has(host) && !serviceEntryHosts.has(host)) problems.push(`${where}: host ${host} is not a declared Service or ServiceEntry`);
        subsetsByHost.set(host, new Set((rule.spec?.subsets ?? []).map((s: { name: string }) => s.name)));
    }
    for (const vs of named(objects, "VirtualService")) {
        const where = `VirtualService ${vs.metadata.namespace}/${vs.metadata.name}`;
        for (const gw of vs.spec?.gateways ?? []) {
            const qualified = gw.includes("/") ? gw : `${vs.metadata.namespace}/${gw}`;
            if (gw !== "mesh" && !gateways.has(qualified)) problems.push(`${where}: gateway ${gw} is not a declared Gateway`);
        }
        const routes = [...(vs.spec?.http ?? []), ...(vs.spec?.tcp ?? []), ...(vs.spec?.tls ?? [])];
        for (const route of routes) {
            const destinations = [...(route.route ?? []), ...(route.mirror ? [{ destination: route.mirror }] : [])];
            for (const { destination } of destinations) {
                if (!services.has(destination.host) && !serviceEntryHosts.has(destination.host)) {
                    problems.push(`${where}: route ${route.name ?? "(unnamed)"} sends to host ${destination.host}, which is not a declared Service`);
                } else if (destination.subset !== undefined && !subsetsByHost.get(destination.host)?.has(destination.subset)) {
                    problems.push(`${where}: route ${route.name ?? "(unnamed)"} names subset ${destination.subset}, which no DestinationRule for ${destination.host} defines`);
                }
            }
        }
    }
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
