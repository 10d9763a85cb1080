import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { ConfigProblem, checkDnsLabel, checkInteger, checkOneOf, describe, parseUrl, throwIfProblems, urlHasUserInfo } from "./validation";
import { componentType, withPreviousType } from "./tokens";

/** The official Istio Helm chart repository. */
export const ISTIO_CHART_REPOSITORY = "https://istio-release.storage.googleapis.com/charts";

/**
 * The Istio version installed by default: a supported release whose Kubernetes range covers what
 * GKE's REGULAR channel runs. Every chart is pinned to it, and the e2e test applies the CRDs of
 * the same version.
 */
export const DEFAULT_ISTIO_VERSION = "1.31.4";

/**
 * The oldest Istio this package installs: 1.24 is the first release whose `base` chart templates
 * its CRDs (`base.enableCRDTemplates`), so Helm upgrades them; charts before it keep CRDs in
 * `crds/`, which Helm installs once and never upgrades.
 */
export const MIN_ISTIO_VERSION = "1.24.0";

/**
 * The newest patch of every Istio minor this package installs, as known on 2026-12-01. Sources:
 * the release announcements of istio.io (content/en/news/releases/<minor>.x/ in istio/istio.io:
 * 1.24.6, 1.25.5, 1.26.8, 1.27.9, 1.28.10, 1.29.8) and the istio.io/api tags the Go module proxy
 * served that day (`go list -m -versions istio.io/api`: v1.30.8, v1.31.4, v1.32.0). Patches of a
 * minor are numbered from 0 without gaps, so every patch up to these exists.
 */
export const ISTIO_NEWEST_PATCHES: Readonly<Record<string, number>> = {
    "1.24": 6, "1.25": 5, "1.26": 8, "1.27": 9, "1.28": 10, "1.29": 8, "1.30": 8, "1.31": 4, "1.32": 0,
};
/** The date {@link ISTIO_NEWEST_PATCHES} was taken. */
export const ISTIO_RELEASES_LISTED_ON = "2026-12-01";
/**
 * Minors whose support had ended months before {@link ISTIO_RELEASES_LISTED_ON} (Istio supports
 * a minor until 6 weeks after the N+2 minor: istio.io/latest/docs/releases/supported-releases):
 * no patch comes after their newest, so a higher one certainly does not exist. Later minors may
 * still get patches, and later minors may appear: those are accepted with a warning.
 */
export const ISTIO_CLOSED_MINORS: readonly string[] = ["1.24", "1.25", "1.26", "1.27", "1.28"];

/** What the dated list says of an `x.y.z` Istio version: it exists, certainly does not, or is not known yet. */
export function istioReleaseStatus(version: string): "released" | "never-released" | "unknown" {
    const [major, minor, patch] = version.split(".").map(Number);
    const key = `${major}.${minor}`;
    const newest = ISTIO_NEWEST_PATCHES[key];
    if (newest !== undefined && patch <= newest) return "released";
    return ISTIO_CLOSED_MINORS.includes(key) ? "never-released" : "unknown";
}

/** A platform profile of the Istio 1.24+ charts (`files/profile-platform-<name>.yaml`), or none. */
export const IstioPlatform = {
    /** No platform profile. */
    None: "",
    /** Google Kubernetes Engine. */
    Gke: "gke",
    /** k3d. */
    K3d: "k3d",
    /** k3s. */
    K3s: "k3s",
    /** MicroK8s. */
    Microk8s: "microk8s",
    /** minikube. */
    Minikube: "minikube",
    /** OpenShift. */
    Openshift: "openshift",
} as const;
/** A platform profile of the Istio 1.24+ charts (`files/profile-platform-<name>.yaml`), or none. */
export type IstioPlatform = (typeof IstioPlatform)[keyof typeof IstioPlatform];
/** The platform profiles the charts ship. */
export const ISTIO_PLATFORMS: readonly IstioPlatform[] = Object.values(IstioPlatform).filter((p) => p !== IstioPlatform.None);

/** Compares two `x.y.z` versions numerically. */
export function compareVersions(a: string, b: string): number {
    const [x, y] = [a.split(".").map(Number), b.split(".").map(Number)];
    for (let i = 0; i < 3; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
    return 0;
}

/**
 * Helm's recovery from a failed install or upgrade, the same for every release this package
 * installs: `atomic` uninstalls a failed first install (and rolls back a failed upgrade), so the
 * next `pulumi up` installs again instead of failing with "cannot re-use a name that is still in
 * use"; `cleanupOnFail` deletes the objects a failed upgrade created.
 */
export const HELM_RECOVERY = { atomic: true, cleanupOnFail: true } as const;

/** The names of the charts in a Helm repository (or a local directory laid out like one). */
export const ISTIO_CHARTS = { base: "base", cni: "cni", istiod: "istiod", gateway: "gateway" } as const;

/** Where a chart comes from: a repository (`https://`, `oci://`) or a local directory holding `<dir>/<chart>`. */
export function chartSource(repository: string, chart: string): { chart: string; repositoryOpts?: { repo: string } } {
    return repository.startsWith("/") ? { chart: `${repository.replace(/\/+$/, "")}/${chart}` } : { chart, repositoryOpts: { repo: repository } };
}

/** Mesh-wide mutual TLS modes for the root-namespace PeerAuthentication. */
export const MtlsMode = {
    /** Only mutual TLS between workloads. */
    Strict: "STRICT",
    /** Mutual TLS and plain text (while migrating). */
    Permissive: "PERMISSIVE",
} as const;
/** A mesh-wide mutual TLS mode. */
export type MtlsMode = (typeof MtlsMode)[keyof typeof MtlsMode];
/** The mutual TLS modes. */
export const MTLS_MODES: readonly MtlsMode[] = Object.values(MtlsMode);

/** Arguments of IstioMesh. */
export interface IstioMeshArgs {
    /** Istio version; every chart is pinned to it. Default `1.31.4` (`DEFAULT_ISTIO_VERSION`). */
    version?: string;
    /** Helm repository of the charts (`https://`, `oci://`), or a local directory with one folder per chart. Default the official repository. */
    repository?: string;
    /**
     * Install istiod as this revision (`istio.io/rev`), as a revision-based upgrade does: release
     * `istiod-<revision>`, and the gateway is injected by it. Empty: the default revision.
     */
    revision?: string;
    /** The charts' platform profile (`global.platform`); `gke` makes the CNI chart find GKE's CNI directory and allow its system-node-critical pods. Empty: none. */
    platform?: IstioPlatform;
    /** Istio CNI instead of the `istio-init` container (NET_ADMIN, NET_RAW), so workload namespaces can enforce Pod Security `baseline`. Default true. */
    cni?: boolean;
    /** Namespace of istiod and the mesh root (PeerAuthentication). Default `istio-system`. */
    systemNamespace?: string;
    /** Namespace of the ingress gateway. Default `istio-ingress`. */
    ingressNamespace?: string;
    /** Helm release name of the ingress gateway; its pods are labelled `istio: <name without "istio-">`. Default `istio-ingress`. */
    ingressReleaseName?: string;
    /** Minimum ingress gateway replicas (the autoscaler may add more). Default 2, at least 2. */
    ingressReplicas?: number;
    /** Mesh-wide mTLS mode. Default `STRICT`. */
    mtlsMode?: MtlsMode;
    /** Envoy access logs to stdout for every proxy. Default true. */
    accessLogging?: boolean;
}

/** Defaults of {@link IstioMeshArgs}. */
export const ISTIO_DEFAULTS: Required<IstioMeshArgs> = {
    version: DEFAULT_ISTIO_VERSION,
    repository: ISTIO_CHART_REPOSITORY,
    systemNamespace: "istio-system",
    ingressNamespace: "istio-ingress",
    ingressReleaseName: "istio-ingress",
    ingressReplicas: 2,
    mtlsMode: "STRICT",
    accessLogging: true,
    revision: "",
    platform: "",
    cni: true,
};

/** Checks arguments with defaults applied. */
export function checkIstioMeshArgs(a: Required<IstioMeshArgs>): ConfigProblem[] {
    const problems: ConfigProblem[] = [
        ...checkDnsLabel("systemNamespace", a.systemNamespace),
        ...checkDnsLabel("ingressNamespace", a.ingressNamespace),
        ...checkDnsLabel("ingressReleaseName", a.ingressReleaseName, 53),
        ...checkInteger("ingressReplicas", a.ingressReplicas, 2, 100),
        ...checkOneOf("mtlsMode", a.mtlsMode, MTLS_MODES),
    ];
    if (typeof a.version !== "string" || !/^1\.\d+\.\d+$/.test(a.version)) {
        problems.push({ setting: "version", message: `got ${describe(a.version)}; allowed values: an exact Istio release such as ${DEFAULT_ISTIO_VERSION}` });
    } else if (compareVersions(a.version, MIN_ISTIO_VERSION) >= 0 && istioReleaseStatus(a.version) === "never-released") {
        const minor = a.version.split(".").slice(0, 2).join(".");
        problems.push({
            setting: "version",
            message: `is ${a.version}, which is not an Istio release (Istio ${minor} ended at ${minor}.${ISTIO_NEWEST_PATCHES[minor]}); ` +
                `allowed values: an existing release such as ${DEFAULT_ISTIO_VERSION} (releases listed on ${ISTIO_RELEASES_LISTED_ON} at istio.io/latest/news/releases)`,
        });
    } else if (compareVersions(a.version, MIN_ISTIO_VERSION) < 0) {
        problems.push({
            setting: "version",
            message: `is ${a.version}, older than ${MIN_ISTIO_VERSION}; allowed values: ${MIN_ISTIO_VERSION} or later (earlier base charts keep their CRDs where Helm never upgrades them; ` +
                "see the README on adopting an older install's CRDs)",
        });
    }
    problems.push(...checkChartRepository("repository", a.repository));
    if (a.revision !== "") problems.push(...checkDnsLabel("revision", a.revision, 40));
    if (a.platform !== "") problems.push(...checkOneOf("platform", a.platform, ISTIO_PLATFORMS));
    if (typeof a.cni !== "boolean") problems.push({ setting: "cni", message: `got ${describe(a.cni)}; allowed values: true, false` });
    return problems;
}

/** Warnings for accepted mesh arguments: an Istio version newer than the dated list of releases. */
export function istioMeshWarnings(a: Required<IstioMeshArgs>): ConfigProblem[] {
    if (typeof a.version !== "string" || !/^1\.\d+\.\d+$/.test(a.version) || istioReleaseStatus(a.version) !== "unknown") return [];
    return [{
        setting: "version",
        message: `is ${a.version}, newer than the Istio releases this package knows (listed on ${ISTIO_RELEASES_LISTED_ON}); it is used as given, ` +
            "and Helm fails the install if the chart repository has no such version (allowed values: any release listed at istio.io/latest/news/releases)",
    }];
}

/**
 * Checks where the charts come from: an https:// or oci:// URL with a host (Helm fetches it), or
 * an absolute directory path. Credentials inside the URL (a user and password before the host, a
 * query string that may carry a token) are refused: the URL is printed in the manifest header,
 * resources.json and the Helm release inputs kept in the state, in clear.
 */
export function checkChartRepository(setting: string, value: unknown): ConfigProblem[] {
    const allowed = "allowed values: an https:// or oci:// chart repository URL with a host, e.g. " +
        `${ISTIO_CHART_REPOSITORY}, or an absolute path to a directory of charts`;
    if (typeof value !== "string") return [{ setting, message: `got ${describe(value)}; ${allowed}` }];
    if (urlHasUserInfo(value) || /^[a-z]+:\/\/[^?#]*\?/i.test(value)) {
        return [{
            setting,
            message: "holds credentials (a user or password before the host, or a query string that may carry a token); the value is not shown, " +
                "and it would be printed in clear in the rendered manifests, resources.json and the Helm release inputs kept in the state. " +
                `${allowed}, without credentials: for a private repository, log in with \`helm registry login\` (oci://) or give the credentials to Helm ` +
                "separately as Pulumi secrets (the Release's repositoryOpts.username and repositoryOpts.password, set with `pulumi config set --secret`)",
        }];
    }
    if (value.startsWith("/")) {
        return value.replace(/\/+$/, "") !== "" && !/[\0\n\r]/.test(value) ? [] : [{ setting, message: `got ${describe(value)}, which is not a directory of charts; ${allowed}` }];
    }
    const url = parseUrl(value);
    if (!url || !["https", "oci"].includes(url.scheme) || url.query !== undefined) {
        return [{ setting, message: `got ${describe(value)}, which is not a usable chart repository (https:// or oci://, a host, an optional port 1-65535, a path); ${allowed}` }];
    }
    return [];
}

/**
 * The labels the `gateway` chart puts on its pods: `app: <release>` and `istio: <release without
 * "istio-">` (manifests/charts/gateway/templates/_helpers.tpl). They are passed to the chart as its
 * `labels` value too, so the Gateway selector and the pods cannot drift apart.
 */
export function gatewayPodLabels(releaseName: string): { app: string; istio: string } {
    return { app: releaseName, istio: releaseName.replace(/^istio-/, "") };
}

/** The Helm release name of istiod: `istiod`, or `istiod-<revision>` for a revision. */
export function istiodReleaseName(revision: string): string {
    return revision ? `istiod-${revision}` : "istiod";
}

/**
 * Helm values of the charts, using the 1.24+ charts' own top-level keys (`autoscaleMin`, not the
 * legacy `pilot.*` shim). `test/istio-charts.test.ts` checks every key against the charts.
 */
export function istioChartValues(a: Required<IstioMeshArgs>) {
    const labels = gatewayPodLabels(a.ingressReleaseName);
    const global = (extra: object = {}) => ({ ...extra, ...(a.platform ? { platform: a.platform } : {}) });
    return {
        // The base chart's default validating webhook points at istiod-<defaultRevision>: with only a
        // revisioned istiod, "default" would name a Service that does not exist.
        base: a.revision ? { defaultRevision: a.revision } : {},
        cni: { global: global() },
        istiod: {
            ...(a.revision ? { revision: a.revision } : {}),
            autoscaleMin: 2,
            replicaCount: 2,
            // istiod injects no istio-init container (NET_ADMIN/NET_RAW) when the CNI agent sets up redirection.
            cni: { enabled: a.cni },
            // istiod gives ServiceEntries without addresses one from 240.240.0.0/16 (their status),
            // and sidecars capture DNS to answer with it, so TCP routing to external hosts works.
            env: { PILOT_ENABLE_IP_AUTOALLOCATE: "true" },
            meshConfig: {
                ...(a.accessLogging ? { accessLogFile: "/dev/stdout", accessLogEncoding: "JSON" } : {}),
                defaultConfig: { proxyMetadata: { ISTIO_META_DNS_CAPTURE: "true" } },
            },
            global: global({ istioNamespace: a.systemNamespace }),
        },
        gateway: {
            ...(a.revision ? { revision: a.revision } : {}),
            labels,
            replicaCount: a.ingressReplicas,
            autoscaling: { enabled: true, minReplicas: a.ingressReplicas, maxReplicas: Math.max(5, a.ingressReplicas * 2) },
            podDisruptionBudget: { minAvailable: 1 },
            // Local: the load balancer delivers to gateway pods on the node it reached, without a
            // second hop that would replace the client's address, so AuthorizationPolicies at the
            // gateway see the real source IP.
            service: { type: "LoadBalancer", externalTrafficPolicy: "Local" },
        },
    };
}

/**
 * The child resources of a IstioMesh, for TypeScript programs. Kept out of the class's own fields:
 * Pulumi's schema analyzer turns every field into an output, and these are not outputs.
 */
interface IstioMeshChildren {
    ready: pulumi.Resource[];
    ingressNamespaceResource: k8s.core.v1.Namespace;
}
const istioMeshChildren = new WeakMap<IstioMesh, IstioMeshChildren>();

/**
 * Istio from its official Helm charts, all pinned to one version: `base` (CRDs), the `cni` node
 * agent, then `istiod` (awaited until ready, so its webhooks answer), then the `gateway` chart as a
 * LoadBalancer ingress gateway in its own namespace; plus mesh-wide STRICT mTLS.
 */
export class IstioMesh extends pulumi.ComponentResource {
    /** The installed Istio version. */
    public readonly version: pulumi.Output<string>;
    /** The ingress gateway's external IP address or hostname. */
    public readonly ingressAddress: pulumi.Output<string>;
    /** Labels selecting the ingress gateway pods, for Istio Gateway resources. */
    public readonly gatewaySelector: Record<string, string>;
    /** Namespace of the ingress gateway pods (where its TLS secrets must live). */
    public readonly ingressNamespace: string;
    /** The revision istiod was installed as (empty: the default revision). */
    public readonly revision: string;

    constructor(name: string, args: IstioMeshArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        const a: Required<IstioMeshArgs> = { ...ISTIO_DEFAULTS, ...args };
        throwIfProblems(checkIstioMeshArgs(a));
        super(componentType("IstioMesh"), name, {}, withPreviousType(opts, "bluegreen:istio:IstioMesh"));
        const kids = {} as IstioMeshChildren;
        istioMeshChildren.set(this, kids);
        const values = istioChartValues(a);

        const systemNs = new k8s.core.v1.Namespace(`${name}-system-namespace`, {
            metadata: { name: a.systemNamespace, labels: { "app.kubernetes.io/managed-by": "pulumi" } },
        }, { parent: this });
        const release = (resourceName: string, releaseName: string, chart: string, namespace: string,
            chartValues: object, dependsOn: pulumi.Resource[]) =>
            new k8s.helm.v3.Release(resourceName, {
                // An explicit release name: auto-naming would add a suffix, and the gateway chart
                // derives its pod labels from the release name.
                name: releaseName,
                ...chartSource(a.repository, chart),
                version: a.version,
                namespace,
                values: chartValues,
                // Wait until every object is ready: istiod must answer its webhooks before anything
                // creates Istio resources or pods.
                skipAwait: false,
                timeout: 600,
                ...HELM_RECOVERY,
            }, { parent: this, dependsOn });

        const base = release(`${name}-base`, "istio-base", ISTIO_CHARTS.base, a.systemNamespace, values.base, [systemNs]);
        // The CNI agent must run on a node before injected pods start there: istiod comes after it.
        const cni = a.cni ? [release(`${name}-cni`, "istio-cni", ISTIO_CHARTS.cni, a.systemNamespace, values.cni, [base])] : [];
        const istiod = release(`${name}-istiod`, istiodReleaseName(a.revision), ISTIO_CHARTS.istiod, a.systemNamespace, values.istiod, [base, ...cni]);

        // The gateway pods are injected with the "gateway" template: their namespace must not carry
        // istio-injection=disabled.
        const ingressNs = new k8s.core.v1.Namespace(`${name}-ingress-namespace`, {
            metadata: { name: a.ingressNamespace, labels: { "app.kubernetes.io/managed-by": "pulumi" } },
        }, { parent: this });
        const gateway = release(`${name}-gateway`, a.ingressReleaseName, ISTIO_CHARTS.gateway, a.ingressNamespace, values.gateway, [istiod, ingressNs]);

        new k8s.apiextensions.CustomResource(`${name}-mtls`, {
            apiVersion: "security.istio.io/v1",
            kind: "PeerAuthentication",
            // "default" in the root namespace applies mesh-wide.
            metadata: { name: "default", namespace: a.systemNamespace },
            spec: { mtls: { mode: a.mtlsMode } },
        }, { parent: this, dependsOn: [istiod] });

        // The gateway chart names its Service after the release. The ID comes from the release's
        // outputs, unknown until the release exists: the engine then skips the read during a
        // preview instead of failing on a Service that a later step creates.
        const ingressService = k8s.core.v1.Service.get(`${name}-ingress-service`,
            gateway.status.apply((st) => `${st.namespace}/${st.name}`), { parent: this, dependsOn: [gateway] });
        this.ingressAddress = ingressService.status.apply((st) =>
            st?.loadBalancer?.ingress?.[0]?.ip ?? st?.loadBalancer?.ingress?.[0]?.hostname ?? "");

        this.version = pulumi.output(a.version);
        this.gatewaySelector = { istio: gatewayPodLabels(a.ingressReleaseName).istio };
        kids.ready = [base, ...cni, istiod];
        this.ingressNamespace = a.ingressNamespace;
        kids.ingressNamespaceResource = ingressNs;
        this.revision = a.revision;

        this.registerOutputs({
            version: this.version,
            ingressAddress: this.ingressAddress,
            gatewaySelector: this.gatewaySelector,
        });
    }

    /** What Istio resources must wait for: the CRDs and a ready istiod. */
    get ready(): pulumi.Resource[] {
        return istioMeshChildren.get(this)!.ready;
    }

    /** The ingress gateway's namespace resource: objects placed there (a Certificate) wait for it. */
    get ingressNamespaceResource(): k8s.core.v1.Namespace {
        return istioMeshChildren.get(this)!.ingressNamespaceResource;
    }
}
