// Turns recorded resources into what a reviewer or kubectl can read: Kubernetes objects in a
// valid apply order, and a JSON listing of every resource with its secrets masked.
import { stringify } from "yaml";
import type { KubernetesObject } from "../components/references";
import { DeclaredResource, providerUrn } from "./engine";

/** What secret inputs are replaced with in written output. */
export const SECRET_MASK = "[secret]";

/** Apply order by kind: namespaces first, then what pods need, then workloads, then Istio routing. */
const KIND_ORDER = [
    "Namespace", "CustomResourceDefinition", "ServiceAccount", "Secret", "ConfigMap", "Service", "Deployment",
    "PodDisruptionBudget", "PeerAuthentication", "Certificate", "Gateway", "DestinationRule", "ServiceEntry", "VirtualService",
];

function kindRank(kind: string): number {
    const rank = KIND_ORDER.indexOf(kind);
    return rank === -1 ? KIND_ORDER.length : rank;
}

/** True for a recorded Kubernetes object (as opposed to providers, components, Helm releases, GCP). */
export function isKubernetesObject(r: DeclaredResource): boolean {
    return r.custom && r.type.startsWith("kubernetes:") && typeof r.inputs.apiVersion === "string" &&
        typeof r.inputs.kind === "string" && r.type !== "kubernetes:helm.sh/v3:Release";
}

/** True for a Helm release, which the renderer lists but cannot expand (no charts are fetched offline). */
export function isHelmRelease(r: DeclaredResource): boolean {
    return r.type === "kubernetes:helm.sh/v3:Release";
}

/**
 * The Kubernetes objects in an order `kubectl apply -f` accepts: by kind rank, and never before an
 * object it depends on (dependsOn). Stable otherwise: declaration order.
 */
export function applyOrder(resources: DeclaredResource[]): DeclaredResource[] {
    const objects = resources.filter(isKubernetesObject);
    const byUrn = new Map(objects.map((o) => [o.urn, o]));
    const sorted = [...objects].sort((a, b) => kindRank(a.inputs.kind) - kindRank(b.inputs.kind));
    const placed = new Set<string>();
    const ordered: DeclaredResource[] = [];
    const place = (o: DeclaredResource, visiting: Set<string>) => {
        if (placed.has(o.urn) || visiting.has(o.urn)) return;
        visiting.add(o.urn);
        for (const dep of o.dependsOn) {
            const target = byUrn.get(dep);
            if (target) place(target, visiting);
        }
        placed.add(o.urn);
        ordered.push(o);
    };
    for (const o of sorted) place(o, new Set());
    return ordered;
}

/** A recorded object as kubectl would receive it. */
export function toKubernetesObject(r: DeclaredResource): KubernetesObject {
    const { apiVersion, kind, metadata, ...rest } = r.inputs;
    return { apiVersion, kind, metadata, ...rest };
}

/** Multi-document YAML of the objects, with a header listing what is installed by Helm instead. */
export function renderManifestsYaml(stack: string, resources: DeclaredResource[]): string {
    const releases = resources.filter(isHelmRelease);
    const header = [
        `# Kubernetes and Istio objects declared by stack "${stack}", in apply order.`,
        "# Generated offline from the Pulumi program under the mock engine: npm start -- --stack " + stack,
        ...(releases.length > 0
            ? ["# Installed by Helm before these objects (not expanded here):",
                ...releases.map((r) => `#   ${r.inputs.name}: chart ${r.inputs.chart} ${r.inputs.version} from ${r.inputs.repositoryOpts?.repo} into ${r.inputs.namespace}`)]
            : []),
    ].join("\n");
    const documents = applyOrder(resources).map((r) => stringify(toKubernetesObject(r), { lineWidth: 0 }).trimEnd());
    return `${header}\n${documents.map((d) => `---\n${d}`).join("\n")}\n`;
}

function setPath(target: any, path: string, value: unknown): void {
    const keys = path.match(/[^.[\]]+/g) ?? [];
    let node = target;
    for (const key of keys.slice(0, -1)) {
        if (node?.[key] === undefined) return;
        node = node[key];
    }
    if (node && keys.length > 0) node[keys[keys.length - 1]] = value;
}

/** A resource for resources.json: type, name, parent, provider, dependencies and inputs, secrets masked. */
export function describeResource(r: DeclaredResource) {
    const inputs = JSON.parse(JSON.stringify(r.inputs));
    for (const secret of r.secretPaths) setPath(inputs, secret, SECRET_MASK);
    return {
        type: r.type,
        name: r.name,
        urn: r.urn,
        parent: r.parent,
        provider: providerUrn(r),
        dependsOn: r.dependsOn,
        secrets: r.secretPaths,
        inputs,
    };
}
