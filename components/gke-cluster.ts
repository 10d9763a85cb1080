import * as pulumi from "@pulumi/pulumi";
// Types only: the package (tens of MB of JavaScript) is loaded when a cluster is built, so a stack
// that targets an existing cluster through `kubeconfig` never pays for it (see loadGcp).
import type * as gcp from "@pulumi/gcp";
import * as k8s from "@pulumi/kubernetes";
import { ConfigProblem, checkInteger, checkOneOf, describe, parseCidr, throwIfProblems } from "./validation";
import { componentType, withPreviousType } from "./tokens";

/** A GKE release channel. */
export const ReleaseChannel = {
    /** The newest GKE versions, weeks after open-source release. */
    Rapid: "RAPID",
    /** Versions qualified on Rapid for a while (GKE's default). */
    Regular: "REGULAR",
    /** Versions qualified on Regular, for stability over features. */
    Stable: "STABLE",
    /** Regular versions kept up to 24 months (extended support). */
    Extended: "EXTENDED",
} as const;
/** One GKE release channel. */
export type ReleaseChannel = (typeof ReleaseChannel)[keyof typeof ReleaseChannel];
/** The GKE release channels. */
export const RELEASE_CHANNELS: readonly ReleaseChannel[] = Object.values(ReleaseChannel);

/** The IAM roles of the node service account in its project: writing logs and metrics. */
export const NODE_SERVICE_ACCOUNT_ROLES = [
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/monitoring.viewer",
    "roles/stackdriver.resourceMetadata.writer",
];

/** The role nodes need to pull images from Artifact Registry (the kubelet pulls as the node service account). */
export const IMAGE_PULL_ROLE = "roles/artifactregistry.reader";

/**
 * The node pool's `initialNodeCount`: the GCP provider replaces a pool when it changes (and reads
 * it back from GKE, where autoscaling moves it), so it is set once at creation and its later
 * changes are ignored; the autoscaler's bounds are what scale the pool.
 */
export function initialNodeCount(minNodes: number): number {
    return Math.max(1, minNodes);
}

/** The clusterIdentifier of the Kubernetes provider for a GKE cluster: GKE's own context name, stable for the cluster's lifetime. */
export function gkeClusterIdentifier(project: string, location: string, clusterName: string): string {
    return `gke_${project}_${location}_${clusterName}`;
}

/** An Artifact Registry repository the nodes may pull from. */
export interface ImageRepository {
    /** Project of the repository. Default: the cluster's project. */
    project?: string;
    /** Location, e.g. `us-central1` or the multi-region `us`. */
    location: string;
    /** Repository ID. */
    repository: string;
}

/**
 * Parses `<location>/<repository>` or `<project>/<location>/<repository>` (the path of a
 * repository's Docker host, `<location>-docker.pkg.dev/<project>/<repository>`, reordered).
 */
export function parseImageRepository(setting: string, value: unknown): { repository?: ImageRepository; problems: ConfigProblem[] } {
    const m = typeof value === "string" ? /^(?:([a-z][a-z0-9-]{4,28}[a-z0-9])\/)?([a-z]+[a-z0-9-]*)\/([a-z]([a-z0-9-]{0,61}[a-z0-9])?)$/.exec(value) : null;
    if (!m) {
        return { problems: [{ setting, message: `got ${describe(value)}; allowed values: <location>/<repository> or <project>/<location>/<repository>, e.g. us-central1/apps` }] };
    }
    if (ZONE.test(m[2])) {
        return { problems: [{ setting, message: `names the zone ${describe(m[2])}; Artifact Registry repositories live in a region or multi-region, never a zone; allowed values: <region>/<repository> (e.g. ${regionOf(m[2])}/${m[3]}) or a multi-region (us, europe, asia)` }] };
    }
    if (!REGION.test(m[2]) && !ARTIFACT_REGISTRY_MULTI_REGIONS.includes(m[2])) {
        return { problems: [{ setting, message: `names the location ${describe(m[2])}, which is neither a region nor a multi-region; allowed values: a region such as us-central1 or a multi-region (${ARTIFACT_REGISTRY_MULTI_REGIONS.join(", ")}), e.g. us-central1/apps` }] };
    }
    return { repository: { ...(m[1] ? { project: m[1] } : {}), location: m[2], repository: m[3] }, problems: [] };
}

/** A GCP region (`us-central1`) and a zone (`us-central1-a`), by shape. */
const REGION = /^[a-z]+-[a-z]+\d+$/;
const ZONE = /^[a-z]+-[a-z]+\d+-[a-z]$/;
/** Artifact Registry's multi-region locations (cloud.google.com/artifact-registry/docs/repositories/repo-locations). */
export const ARTIFACT_REGISTRY_MULTI_REGIONS = ["us", "europe", "asia"];

/**
 * The Compute Engine regions, as cloud.google.com/compute/docs/regions-zones listed them on
 * 2026-12-01. Google opens new regions: an unknown one is accepted with a warning, never refused.
 */
export const GCP_REGIONS_LISTED_ON = "2026-12-01";
export const GCP_REGIONS: ReadonlySet<string> = new Set([
    "africa-south1", "asia-east1", "asia-east2", "asia-northeast1", "asia-northeast2", "asia-northeast3", "asia-south1", "asia-south2",
    "asia-southeast1", "asia-southeast2", "australia-southeast1", "australia-southeast2", "europe-central2", "europe-north1", "europe-north2",
    "europe-southwest1", "europe-west1", "europe-west2", "europe-west3", "europe-west4", "europe-west6", "europe-west8", "europe-west9",
    "europe-west10", "europe-west12", "me-central1", "me-central2", "me-west1", "northamerica-northeast1", "northamerica-northeast2",
    "northamerica-south1", "southamerica-east1", "southamerica-west1", "us-central1", "us-east1", "us-east4", "us-east5", "us-south1",
    "us-west1", "us-west2", "us-west3", "us-west4",
]);

/**
 * Compute Engine machine series (the part before the first '-', cloud.google.com/compute/docs/machine-resource,
 * listed on 2026-12-01). A new series is accepted with a warning, never refused.
 */
export const MACHINE_SERIES: ReadonlySet<string> = new Set(["a2", "a3", "a4", "a4x", "c2", "c2d", "c3", "c3d", "c4", "c4a", "c4d", "ct5l", "ct5lp",
    "ct5p", "ct6e", "e2", "f1", "g1", "g2", "g4", "h3", "h4d", "m1", "m2", "m3", "m4", "n1", "n2", "n2d", "n4", "n4a", "n4d", "t2a", "t2d", "x4", "z3"]);

/**
 * Machine types GKE refuses for nodes: "Node pools of f1-micro machines are not supported due to
 * insufficient memory" (the API's error; cloud.google.com/kubernetes-engine/docs/concepts/cluster-architecture).
 */
export const GKE_REFUSED_MACHINE_TYPES = ["f1-micro"];

/**
 * Words a project ID cannot contain (cloud.google.com/resource-manager/docs/creating-managing-projects:
 * "Cannot contain restricted strings, such as google, null, undefined, and ssl").
 */
export const PROJECT_ID_RESTRICTED_WORDS = ["google", "null", "undefined", "ssl"];

/**
 * Ranges no VPC subnet or secondary range may use (cloud.google.com/vpc/docs/subnets, "Prohibited
 * IPv4 subnet ranges"): this network, loopback, link-local, multicast and broadcast.
 */
export const PROHIBITED_RANGES: { cidr: string; what: string }[] = [
    { cidr: "0.0.0.0/8", what: "\"this network\"" },
    { cidr: "127.0.0.0/8", what: "loopback" },
    { cidr: "169.254.0.0/16", what: "link-local" },
    { cidr: "224.0.0.0/4", what: "multicast" },
    { cidr: "255.255.255.255/32", what: "broadcast" },
];

/**
 * How many authorized networks GKE takes (cloud.google.com/kubernetes-engine/docs/how-to/authorized-networks,
 * Limitations): "Public clusters can have up to 50 authorized network CIDR ranges; private clusters can have up to 100."
 */
export const MAX_AUTHORIZED_NETWORKS = { public: 50, private: 100 };

/** The port istiod's admission webhooks listen on; a private control plane must reach it. */
export const ISTIOD_WEBHOOK_PORT = "15017";

/** Node pool shape. */
export interface NodePoolSettings {
    /** Compute Engine machine type. Default `e2-standard-4`. */
    machineType: string;
    /** Autoscaling minimum, per zone of the cluster's location. Default 1. */
    minNodes: number;
    /** Autoscaling maximum, per zone. Default 3. */
    maxNodes: number;
    /** Boot disk size in GB. Default 50. */
    diskSizeGb: number;
}

/** An existing VPC network to use instead of creating one. */
export interface ExistingNetwork {
    /** Network name or self link. */
    network: string;
    /** Subnetwork name or self link, in the cluster's region. */
    subnetwork: string;
    /** Name of the subnetwork's secondary range for pods. */
    podsRangeName: string;
    /** Name of the subnetwork's secondary range for services. */
    servicesRangeName: string;
}

/** Address ranges of a network this component creates. */
export interface NetworkRanges {
    /** Primary range of the subnet (nodes). Default `10.10.0.0/20`. */
    nodes: string;
    /** Secondary range for pods. Default `10.20.0.0/14`. */
    pods: string;
    /** Secondary range for services. Default `10.24.0.0/20`. */
    services: string;
}

/** Arguments of GkeCluster. */
export interface GkeClusterArgs {
    /** GCP project ID; the Workload Identity pool is `<project>.svc.id.goog`. */
    project: string;
    /** Cluster name (also the prefix of the network, node pool and service account names). */
    clusterName: string;
    /** A region (regional cluster, nodes in every zone) or a zone (zonal cluster). */
    location: string;
    /** Release channel. Default `REGULAR`. */
    releaseChannel?: ReleaseChannel;
    /** Refuse `pulumi destroy` of the cluster until this is set false and applied. */
    deletionProtection: boolean;
    /** Node pool shape. */
    nodePool?: Partial<NodePoolSettings>;
    /** Use this network instead of creating one. */
    existingNetwork?: ExistingNetwork;
    /** Ranges of the created network (ignored with existingNetwork). */
    networkRanges?: Partial<NetworkRanges>;
    /** Nodes without public IPs: private cluster config, Cloud NAT and the istiod webhook firewall rule. */
    privateNodes?: boolean;
    /** The control plane's /28 range for private nodes. Default `172.16.0.0/28`. */
    masterCidr?: string;
    /** CIDRs allowed to reach the control plane endpoint; empty leaves it reachable from anywhere (still authenticated). */
    masterAuthorizedNetworks?: string[];
    /** Use GKE Dataplane V2 (eBPF: built-in network policy and flow logging). Default true. */
    dataplaneV2?: boolean;
    /**
     * Artifact Registry repositories the nodes may pull images from (`roles/artifactregistry.reader`
     * on each repository, the narrowest scope IAM offers). Unset or empty: the role on the cluster's
     * project, so every repository in the project.
     */
    imageRepositories?: ImageRepository[];
}

/** Defaults of {@link GkeClusterArgs}. */
export const GKE_DEFAULTS = {
    releaseChannel: "REGULAR" as ReleaseChannel,
    nodePool: { machineType: "e2-standard-4", minNodes: 1, maxNodes: 3, diskSizeGb: 50 } as NodePoolSettings,
    networkRanges: { nodes: "10.10.0.0/20", pods: "10.20.0.0/14", services: "10.24.0.0/20" } as NetworkRanges,
    masterCidr: "172.16.0.0/28",
};

function checkCidr(setting: string, value: unknown, minPrefix = 8, maxPrefix = 29): ConfigProblem[] {
    const parsed = parseCidr(value);
    if (parsed && parsed[1] >= minPrefix && parsed[1] <= maxPrefix) return [];
    return [{
        setting,
        message: `got ${describe(value)}; allowed values: an IPv4 CIDR with prefix /${minPrefix} to /${maxPrefix} and no host bits set, e.g. 10.10.0.0/20`,
    }];
}

function overlaps(a: string, b: string): boolean {
    const [pa, pb] = [parseCidr(a), parseCidr(b)];
    if (!pa || !pb) return false;
    const size = (p: number) => 2 ** (32 - p);
    return pa[0] < pb[0] + size(pb[1]) && pb[0] < pa[0] + size(pa[1]);
}

/** The region of a location: a zone `us-central1-a` lies in `us-central1`; a region is itself. */
export function regionOf(location: string): string {
    return /^[a-z]+-[a-z]+\d+-[a-z]$/.test(location) ? location.replace(/-[a-z]$/, "") : location;
}

/** Arguments with defaults applied. */
export type ResolvedGkeClusterArgs = Omit<GkeClusterArgs, "nodePool" | "networkRanges"> & {
    releaseChannel: ReleaseChannel;
    nodePool: NodePoolSettings;
    networkRanges: NetworkRanges;
    privateNodes: boolean;
    masterCidr: string;
    masterAuthorizedNetworks: string[];
    dataplaneV2: boolean;
    imageRepositories: ImageRepository[];
};

/** Applies defaults. */
export function resolveGkeClusterArgs(args: GkeClusterArgs): ResolvedGkeClusterArgs {
    return {
        ...args,
        releaseChannel: args.releaseChannel ?? GKE_DEFAULTS.releaseChannel,
        nodePool: { ...GKE_DEFAULTS.nodePool, ...args.nodePool },
        networkRanges: { ...GKE_DEFAULTS.networkRanges, ...args.networkRanges },
        privateNodes: args.privateNodes ?? false,
        masterCidr: args.masterCidr ?? GKE_DEFAULTS.masterCidr,
        masterAuthorizedNetworks: args.masterAuthorizedNetworks ?? [],
        dataplaneV2: args.dataplaneV2 ?? true,
        imageRepositories: args.imageRepositories ?? [],
    };
}

/** Checks resolved arguments; problems name the argument path (`nodePool.minNodes`, ...). */
export function checkGkeClusterArgs(a: ResolvedGkeClusterArgs): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    if (typeof a.project !== "string" || !/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(a.project)) {
        problems.push({ setting: "project", message: `got ${describe(a.project)}; allowed values: a GCP project ID (6 to 30 lowercase letters, digits and '-')` });
    } else {
        const word = PROJECT_ID_RESTRICTED_WORDS.find((w) => a.project.includes(w));
        if (word) {
            problems.push({ setting: "project", message: `is ${describe(a.project)}, which contains "${word}", a word GCP does not allow in project IDs (${PROJECT_ID_RESTRICTED_WORDS.join(", ")}); allowed values: the ID of your project, which cannot contain them` });
        }
    }
    // The node service account ID is "<clusterName>-nodes" and may have at most 30 characters.
    if (typeof a.clusterName !== "string" || !/^[a-z]([-a-z0-9]{0,22}[a-z0-9])?$/.test(a.clusterName)) {
        problems.push({ setting: "clusterName", message: `got ${describe(a.clusterName)}; allowed values: 1 to 24 lowercase letters, digits and '-', starting with a letter` });
    }
    if (typeof a.location !== "string" || !/^[a-z]+-[a-z]+\d+(-[a-z])?$/.test(a.location)) {
        problems.push({ setting: "location", message: `got ${describe(a.location)}; allowed values: a GCP region (us-central1) or zone (us-central1-a)` });
    }
    problems.push(...checkOneOf("releaseChannel", a.releaseChannel, RELEASE_CHANNELS));
    if (typeof a.nodePool.machineType !== "string" || !/^[a-z0-9]+-[a-z0-9-]+$/.test(a.nodePool.machineType)) {
        problems.push({ setting: "nodePool.machineType", message: `got ${describe(a.nodePool.machineType)}; allowed values: a machine type such as e2-standard-4` });
    } else if (GKE_REFUSED_MACHINE_TYPES.includes(a.nodePool.machineType)) {
        problems.push({ setting: "nodePool.machineType", message: `is ${a.nodePool.machineType}, which GKE refuses for nodes (not enough memory); allowed values: a larger machine type such as e2-small, e2-medium or e2-standard-4` });
    }
    const minProblems = checkInteger("nodePool.minNodes", a.nodePool.minNodes, 0, 1000);
    const maxProblems = checkInteger("nodePool.maxNodes", a.nodePool.maxNodes, 1, 1000);
    problems.push(...minProblems, ...maxProblems);
    if (minProblems.length === 0 && maxProblems.length === 0 && a.nodePool.minNodes > a.nodePool.maxNodes) {
        problems.push({ setting: "nodePool.minNodes", message: `is ${a.nodePool.minNodes}, more than nodePool.maxNodes (${a.nodePool.maxNodes}); allowed values: at most the maximum` });
    }
    problems.push(...checkInteger("nodePool.diskSizeGb", a.nodePool.diskSizeGb, 10, 65536));
    if (!a.existingNetwork) {
        const ranges = a.networkRanges;
        const rangeProblems = [
            ...checkCidr("networkRanges.nodes", ranges.nodes),
            ...checkCidr("networkRanges.pods", ranges.pods, 8, 21),
            ...checkCidr("networkRanges.services", ranges.services, 8, 27),
        ];
        problems.push(...rangeProblems);
        // Malformed ranges never overlap, so the well-formed ones are compared whatever else is wrong.
        for (const [x, y] of [["nodes", "pods"], ["nodes", "services"], ["pods", "services"]] as const) {
            if (overlaps(ranges[x], ranges[y])) {
                problems.push({ setting: `networkRanges.${y}`, message: `${ranges[y]} overlaps networkRanges.${x} (${ranges[x]}); allowed values: disjoint ranges` });
            }
        }
        for (const key of ["nodes", "pods", "services"] as const) problems.push(...checkProhibitedRange(`networkRanges.${key}`, ranges[key]));
    }
    if (a.privateNodes) {
        problems.push(...checkCidr("masterCidr", a.masterCidr, 28, 28), ...checkProhibitedRange("masterCidr", a.masterCidr));
        // The control plane's /28 is peered into the VPC: GKE refuses one that overlaps the cluster's own ranges.
        const own = a.existingNetwork ? [] : (["nodes", "pods", "services"] as const).filter((key) => overlaps(a.masterCidr, a.networkRanges[key]));
        for (const key of own) {
            problems.push({ setting: "masterCidr", message: `${a.masterCidr} overlaps networkRanges.${key} (${a.networkRanges[key]}); allowed values: a /28 outside the node, pod and service ranges, e.g. 172.16.0.0/28` });
        }
    }
    a.masterAuthorizedNetworks.forEach((cidr, i) => problems.push(...checkCidr(`masterAuthorizedNetworks[${i}]`, cidr, 0, 32)));
    const maxNetworks = a.privateNodes ? MAX_AUTHORIZED_NETWORKS.private : MAX_AUTHORIZED_NETWORKS.public;
    if (a.masterAuthorizedNetworks.length > maxNetworks) {
        problems.push({
            setting: "masterAuthorizedNetworks",
            message: `lists ${a.masterAuthorizedNetworks.length} ranges; GKE takes at most ${MAX_AUTHORIZED_NETWORKS.public} for a cluster without private nodes and ` +
                `${MAX_AUTHORIZED_NETWORKS.private} with them; allowed values: at most ${maxNetworks} ranges here (merge neighbours into wider ones)`,
        });
    }
    const granted = new Map<string, number>();
    a.imageRepositories.forEach((r, i) => {
        const path = [r.project, r.location, r.repository].filter((x) => x !== undefined).join("/");
        const parsed = parseImageRepository(`imageRepositories[${i}]`, path);
        problems.push(...parsed.problems);
        // Two grants whose resource names agree are one resource declared twice (the same URN).
        const key = imagePullGrantSuffix(r.project ?? a.project, r.location, r.repository);
        const first = granted.get(key);
        if (parsed.problems.length === 0 && first !== undefined) {
            problems.push({ setting: `imageRepositories[${i}]`, message: `grants ${describe(path)} again (imageRepositories[${first}] names the same repository); allowed values: each repository once` });
        } else if (first === undefined) {
            granted.set(key, i);
        }
    });
    return problems;
}

/** The end of the resource name of a node pull grant on one repository: two grants with the same suffix would share a URN. */
export function imagePullGrantSuffix(project: string, location: string, repository: string): string {
    return `${project}-${location}-${repository}`;
}

/** Refuses a range that overlaps one no VPC may use (see {@link PROHIBITED_RANGES}). */
function checkProhibitedRange(setting: string, cidr: string): ConfigProblem[] {
    const hit = PROHIBITED_RANGES.find((r) => overlaps(cidr, r.cidr));
    return hit ? [{ setting, message: `${cidr} overlaps ${hit.cidr} (${hit.what}), which GCP does not allow in a VPC; allowed values: a private range such as 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16` }] : [];
}

/**
 * Warnings for accepted cluster arguments: a location, image repository location or machine
 * series that the dated lists ({@link GCP_REGIONS}, {@link MACHINE_SERIES}) do not know. Google
 * adds regions and series, so these are never refused here; GKE refuses what truly does not exist.
 */
export function gkeClusterWarnings(a: ResolvedGkeClusterArgs): ConfigProblem[] {
    const warnings: ConfigProblem[] = [];
    const unknownRegion = (location: string) => (REGION.test(location) || ZONE.test(location)) && !GCP_REGIONS.has(regionOf(location));
    if (typeof a.location === "string" && unknownRegion(a.location)) {
        warnings.push({ setting: "location", message: `is ${describe(a.location)}, in a region the GCP regions listed on ${GCP_REGIONS_LISTED_ON} do not include; it is used as given (allowed values: a region or zone from gcloud compute regions list)` });
    }
    const series = typeof a.nodePool.machineType === "string" ? a.nodePool.machineType.split("-")[0] : "";
    if (series && /^[a-z0-9]+-[a-z0-9-]+$/.test(a.nodePool.machineType) && series !== "custom" && !MACHINE_SERIES.has(series)) {
        warnings.push({ setting: "nodePool.machineType", message: `is ${describe(a.nodePool.machineType)}, of a machine series the list of ${GCP_REGIONS_LISTED_ON} does not include; it is used as given (allowed values: a type from gcloud compute machine-types list)` });
    }
    a.imageRepositories.forEach((r, i) => {
        if (REGION.test(r.location) && !GCP_REGIONS.has(r.location)) {
            warnings.push({ setting: `imageRepositories[${i}]`, message: `names the location ${describe(r.location)}, a region the list of ${GCP_REGIONS_LISTED_ON} does not include; it is used as given (allowed values: an Artifact Registry location)` });
        }
    });
    return warnings;
}

/** The kubeconfig of a GKE cluster, authenticating with gke-gcloud-auth-plugin (no static credentials). */
export function buildKubeconfig(contextName: string, endpoint: string, caCertificate: string): string {
    return JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: contextName, cluster: { server: `https://${endpoint}`, "certificate-authority-data": caCertificate } }],
        contexts: [{ name: contextName, context: { cluster: contextName, user: contextName } }],
        "current-context": contextName,
        users: [{
            name: contextName,
            user: {
                exec: {
                    apiVersion: "client.authentication.k8s.io/v1beta1",
                    command: "gke-gcloud-auth-plugin",
                    installHint: "Install gke-gcloud-auth-plugin: gcloud components install gke-gcloud-auth-plugin",
                    provideClusterInfo: true,
                },
            },
        }],
    }, null, 2);
}

/** The @pulumi/gcp versions this package supports: its manifest's peer range (package.json is next to components/ and bin/). */
function gcpPeerRange(): string {
    return require("../package.json").peerDependencies["@pulumi/gcp"];
}

/**
 * `@pulumi/gcp`, required on first use: only a stack that builds a cluster loads it. It is an
 * optional peer dependency, so a program that only targets an existing cluster never installs it.
 */
function loadGcp(): typeof gcp {
    try {
        return require("@pulumi/gcp");
    } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "MODULE_NOT_FOUND" || !/'@pulumi\/gcp'/.test((e as Error).message)) throw e;
        throw new Error("building a GKE cluster (GkeCluster, BlueGreenEnvironment with `cluster`) needs @pulumi/gcp, an optional peer " +
            `dependency of gke-istio-bluegreen: run "npm install @pulumi/gcp@'${gcpPeerRange()}'" in your program's directory`, { cause: e });
    }
}

/**
 * A Cloud Monitoring dashboard in `project` from its JSON: a `gcp.monitoring.Dashboard`, typed as
 * its base class so that the package's declarations never name @pulumi/gcp (see GkeCluster's getters).
 */
export function declareMonitoringDashboard(name: string, project: string, dashboardJson: string, opts: pulumi.CustomResourceOptions): pulumi.CustomResource {
    return new (loadGcp().monitoring.Dashboard)(name, { project, dashboardJson }, opts);
}

/** Throws the message of `loadGcp` when @pulumi/gcp is not installed; for components that build a cluster later. */
export function requireGcpInstalled(): void {
    loadGcp();
}

/**
 * The child resources of a GkeCluster, for TypeScript programs. Kept out of the class's own fields:
 * Pulumi's schema analyzer turns every field into an output, and these are not outputs.
 */
interface GkeClusterChildren {
    provider: k8s.Provider;
    cluster: gcp.container.Cluster;
    nodePool: gcp.container.NodePool;
}
const gkeClusterChildren = new WeakMap<GkeCluster, GkeClusterChildren>();

/**
 * A production-shaped GKE Standard cluster: VPC-native networking, a release channel, Workload
 * Identity, shielded nodes, Dataplane V2, logging and monitoring, and a separately managed,
 * autoscaled node pool running as a least-privilege service account. Optionally private nodes
 * with Cloud NAT and the firewall rule istiod's webhooks need.
 */
export class GkeCluster extends pulumi.ComponentResource {
    /** The cluster's name. */
    public readonly clusterName: pulumi.Output<string>;
    /** The control plane endpoint (IP address). */
    public readonly endpoint: pulumi.Output<string>;
    /** A kubeconfig for the cluster (secret), using gke-gcloud-auth-plugin. */
    public readonly kubeconfig: pulumi.Output<string>;

    constructor(name: string, args: GkeClusterArgs, opts?: pulumi.ComponentResourceOptions) {
        const a = resolveGkeClusterArgs(args);
        throwIfProblems(checkGkeClusterArgs(a));
        // Before registering anything: without @pulumi/gcp nothing of the cluster can be declared.
        const gcp = loadGcp();
        super(componentType("GkeCluster"), name, {}, withPreviousType(opts, "bluegreen:gke:GkeCluster"));
        const kids = {} as GkeClusterChildren;
        gkeClusterChildren.set(this, kids);
        const child = { parent: this };
        const region = regionOf(a.location);
        const nodeTag = `${a.clusterName}-node`;

        let network: pulumi.Input<string> = a.existingNetwork?.network ?? "";
        let subnetwork: pulumi.Input<string> = a.existingNetwork?.subnetwork ?? "";
        const podsRangeName = a.existingNetwork?.podsRangeName ?? "pods";
        const servicesRangeName = a.existingNetwork?.servicesRangeName ?? "services";
        if (!a.existingNetwork) {
            const vpc = new gcp.compute.Network(`${name}-network`, {
                name: a.clusterName,
                project: a.project,
                autoCreateSubnetworks: false,
            }, child);
            const subnet = new gcp.compute.Subnetwork(`${name}-subnet`, {
                name: a.clusterName,
                project: a.project,
                region,
                network: vpc.id,
                ipCidrRange: a.networkRanges.nodes,
                privateIpGoogleAccess: true,
                secondaryIpRanges: [
                    { rangeName: podsRangeName, ipCidrRange: a.networkRanges.pods },
                    { rangeName: servicesRangeName, ipCidrRange: a.networkRanges.services },
                ],
            }, child);
            network = vpc.id;
            subnetwork = subnet.id;
        }

        if (a.privateNodes) {
            // Private nodes have no external IPs: Cloud NAT gives them egress (image pulls, APIs).
            const router = new gcp.compute.Router(`${name}-router`, {
                name: `${a.clusterName}-router`, project: a.project, region, network,
            }, child);
            new gcp.compute.RouterNat(`${name}-nat`, {
                name: `${a.clusterName}-nat`,
                project: a.project,
                region,
                router: router.name,
                natIpAllocateOption: "AUTO_ONLY",
                sourceSubnetworkIpRangesToNat: "ALL_SUBNETWORKS_ALL_IP_RANGES",
                logConfig: { enable: true, filter: "ERRORS_ONLY" },
            }, child);
            // GKE opens only 443/10250 from the control plane; without 15017 istiod's injection and
            // validation webhooks time out and sidecars are silently not injected.
            new gcp.compute.Firewall(`${name}-istiod-webhook`, {
                name: `${a.clusterName}-istiod-webhook`,
                project: a.project,
                network,
                direction: "INGRESS",
                sourceRanges: [a.masterCidr],
                targetTags: [nodeTag],
                allows: [{ protocol: "tcp", ports: [ISTIOD_WEBHOOK_PORT] }],
                description: "GKE control plane to istiod admission webhooks",
            }, child);
        }

        const nodeServiceAccount = new gcp.serviceaccount.Account(`${name}-nodes`, {
            accountId: `${a.clusterName}-nodes`,
            project: a.project,
            displayName: `GKE nodes of ${a.clusterName} (logs, metrics, image pulls)`,
        }, child);
        const member = pulumi.interpolate`serviceAccount:${nodeServiceAccount.email}`;
        const roleGrants: pulumi.Resource[] = NODE_SERVICE_ACCOUNT_ROLES.map((role) => new gcp.projects.IAMMember(`${name}-nodes-${role.split("/")[1]}`, {
            project: a.project,
            role,
            member,
        }, child));
        // The kubelet pulls images as the node service account: without this role, images in the
        // project's Artifact Registry fail with ImagePullBackOff.
        if (a.imageRepositories.length === 0) {
            roleGrants.push(new gcp.projects.IAMMember(`${name}-nodes-image-pull`, { project: a.project, role: IMAGE_PULL_ROLE, member }, child));
        }
        for (const r of a.imageRepositories) {
            const project = r.project ?? a.project;
            roleGrants.push(new gcp.artifactregistry.RepositoryIamMember(`${name}-nodes-image-pull-${imagePullGrantSuffix(project, r.location, r.repository)}`, {
                project, location: r.location, repository: r.repository, role: IMAGE_PULL_ROLE, member,
            }, child));
        }

        kids.cluster = new gcp.container.Cluster(`${name}-cluster`, {
            name: a.clusterName,
            project: a.project,
            location: a.location,
            // The default pool cannot be managed separately; GKE needs one node to create the cluster.
            removeDefaultNodePool: true,
            initialNodeCount: 1,
            network,
            subnetwork,
            networkingMode: "VPC_NATIVE",
            ipAllocationPolicy: { clusterSecondaryRangeName: podsRangeName, servicesSecondaryRangeName: servicesRangeName },
            releaseChannel: { channel: a.releaseChannel },
            workloadIdentityConfig: { workloadPool: `${a.project}.svc.id.goog` },
            enableShieldedNodes: true,
            datapathProvider: a.dataplaneV2 ? "ADVANCED_DATAPATH" : "LEGACY_DATAPATH",
            loggingConfig: { enableComponents: ["SYSTEM_COMPONENTS", "WORKLOADS"] },
            monitoringConfig: { enableComponents: ["SYSTEM_COMPONENTS"], managedPrometheus: { enabled: true } },
            deletionProtection: a.deletionProtection,
            privateClusterConfig: a.privateNodes
                ? { enablePrivateNodes: true, enablePrivateEndpoint: false, masterIpv4CidrBlock: a.masterCidr }
                : undefined,
            masterAuthorizedNetworksConfig: a.masterAuthorizedNetworks.length > 0
                ? { cidrBlocks: a.masterAuthorizedNetworks.map((cidrBlock) => ({ cidrBlock, displayName: cidrBlock })) }
                : undefined,
            resourceLabels: { "managed-by": "pulumi", "cluster": a.clusterName },
        }, child);

        kids.nodePool = new gcp.container.NodePool(`${name}-pool`, {
            name: `${a.clusterName}-pool`,
            project: a.project,
            cluster: kids.cluster.name,
            location: a.location,
            // Set at creation only (see ignoreChanges below): changing it would replace the pool.
            initialNodeCount: initialNodeCount(a.nodePool.minNodes),
            autoscaling: { minNodeCount: a.nodePool.minNodes, maxNodeCount: a.nodePool.maxNodes },
            management: { autoRepair: true, autoUpgrade: true },
            upgradeSettings: { maxSurge: 1, maxUnavailable: 0 },
            nodeConfig: {
                machineType: a.nodePool.machineType,
                diskSizeGb: a.nodePool.diskSizeGb,
                diskType: "pd-balanced",
                serviceAccount: nodeServiceAccount.email,
                oauthScopes: ["https://www.googleapis.com/auth/cloud-platform"],
                workloadMetadataConfig: { mode: "GKE_METADATA" },
                shieldedInstanceConfig: { enableSecureBoot: true, enableIntegrityMonitoring: true },
                metadata: { "disable-legacy-endpoints": "true" },
                tags: [nodeTag],
                labels: { cluster: a.clusterName },
            },
        }, {
            parent: this,
            dependsOn: roleGrants,
            // The provider replaces a pool whose initialNodeCount differs, and with an explicit name it
            // deletes the old pool first: every node, istiod and the gateway would go. Changing
            // minNodes later must update the autoscaling bounds in place.
            ignoreChanges: ["initialNodeCount"],
        });

        this.clusterName = kids.cluster.name;
        this.endpoint = kids.cluster.endpoint;
        this.kubeconfig = pulumi.secret(pulumi.all([kids.cluster.name, kids.cluster.endpoint, kids.cluster.masterAuth])
            .apply(([clusterName, endpoint, auth]) =>
                buildKubeconfig(gkeClusterIdentifier(a.project, a.location, clusterName), endpoint, auth.clusterCaCertificate ?? "")));
        kids.provider = new k8s.Provider(`${name}-k8s`, {
            kubeconfig: this.kubeconfig,
            // Without it, a changed endpoint, CA or a kubeconfig computed during an update would make
            // the provider (and with it every Kubernetes resource) be replaced.
            clusterIdentifier: gkeClusterIdentifier(a.project, a.location, a.clusterName),
        }, { parent: this, dependsOn: [kids.nodePool] });

        this.registerOutputs({
            clusterName: this.clusterName,
            endpoint: this.endpoint,
            kubeconfig: this.kubeconfig,
        });
    }

    /** A Kubernetes provider for the cluster that waits for the node pool. */
    get provider(): k8s.Provider {
        return gkeClusterChildren.get(this)!.provider;
    }

    // The two resources below are typed as their base class so that the declarations shipped in the
    // package never name @pulumi/gcp: a program that does not build a cluster type-checks without it.

    /** The cluster resource, a `gcp.container.Cluster` (cast to it for its outputs). */
    get cluster(): pulumi.CustomResource {
        return gkeClusterChildren.get(this)!.cluster;
    }

    /** The node pool resource, a `gcp.container.NodePool` (cast to it for its outputs). */
    get nodePool(): pulumi.CustomResource {
        return gkeClusterChildren.get(this)!.nodePool;
    }
}
