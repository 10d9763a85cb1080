// What this package knows about which input changes make a provider replace a resource instead of
// updating it. The offline plan diffs inputs only; it cannot ask a provider, so it marks these
// known cases and says plainly that any other update may still turn out to be a replacement.

/**
 * Input paths (a path or a prefix of one) that force replacement, by resource type. `kubernetes:*`
 * applies to every Kubernetes object. Sources: the GCP provider's ForceNew fields for the inputs
 * this package sets, the Kubernetes API's immutable fields, and pulumi-kubernetes' own rules.
 */
export const REPLACEMENT_TRIGGERS: Record<string, string[]> = {
    "gcp:container/cluster:Cluster": ["name", "project", "location", "network", "subnetwork", "networkingMode", "ipAllocationPolicy",
        "initialNodeCount", "datapathProvider", "privateClusterConfig.enablePrivateNodes", "privateClusterConfig.masterIpv4CidrBlock"],
    // machineType, diskSizeGb and diskType update in place (GKE migrates the nodes surge by surge).
    "gcp:container/nodePool:NodePool": ["name", "project", "cluster", "location", "initialNodeCount", "nodeConfig.serviceAccount",
        "nodeConfig.oauthScopes", "nodeConfig.shieldedInstanceConfig", "nodeConfig.metadata"],
    "gcp:serviceaccount/account:Account": ["accountId", "project"],
    "gcp:projects/iAMMember:IAMMember": ["project", "role", "member", "condition"],
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": ["project", "location", "repository", "role", "member", "condition"],
    "gcp:compute/network:Network": ["name", "project", "autoCreateSubnetworks"],
    "gcp:compute/subnetwork:Subnetwork": ["name", "project", "region", "network"],
    "gcp:compute/firewall:Firewall": ["name", "project", "network", "direction"],
    "gcp:compute/router:Router": ["name", "project", "region", "network"],
    "gcp:compute/routerNat:RouterNat": ["name", "project", "region", "router"],
    "kubernetes:*": ["metadata.name", "metadata.namespace", "apiVersion", "kind"],
    // The API server refuses changes to a Deployment's selector and a Service's clusterIP.
    "kubernetes:apps/v1:Deployment": ["spec.selector"],
    "kubernetes:core/v1:Service": ["spec.clusterIP", "spec.clusterIPs"],
    // A Helm release is identified by its name and namespace.
    "kubernetes:helm.sh/v3:Release": ["name", "namespace"],
    // Set, the provider (and every resource it manages) is replaced only when this changes.
    "pulumi:providers:kubernetes": ["clusterIdentifier"],
};

/** True when `path` is `prefix` or lies under it (`spec.selector.matchLabels.app` under `spec.selector`). */
export function underPath(path: string, prefix: string): boolean {
    return path === prefix || path.startsWith(`${prefix}.`) || path.startsWith(`${prefix}[`);
}

/** The value at a dotted path below `value` (`a.b`), or undefined. */
function at(value: unknown, dotted: string): unknown {
    return dotted.split(".").reduce<any>((v, key) => (v !== null && typeof v === "object" ? v[key] : undefined), value);
}

/**
 * The changed paths that this package knows force replacement of a resource of `type`: a change
 * at or under a trigger, or a change of a whole object (`privateClusterConfig` added) that changes
 * a trigger inside it.
 */
export function replacementPaths(type: string, changes: { path: string; before?: unknown; after?: unknown }[]): string[] {
    const triggers = [...(REPLACEMENT_TRIGGERS[type] ?? []), ...(type.startsWith("kubernetes:") ? REPLACEMENT_TRIGGERS["kubernetes:*"] : [])];
    return changes.filter((c) => triggers.some((t) => underPath(c.path, t) ||
        (t.startsWith(`${c.path}.`) && JSON.stringify(at(c.before, t.slice(c.path.length + 1))) !== JSON.stringify(at(c.after, t.slice(c.path.length + 1))))))
        .map((c) => c.path);
}

/** What every offline plan says about its own limits. */
export const REPLACE_CAVEAT = "npm run plan diffs the program's inputs under the mock engine and cannot ask a provider whether an " +
    "update is a replacement. Changes marked (forces replacement) are ones this package knows replace the resource; any other " +
    "update may still be one: `pulumi preview --diff` is the authority.";
