import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { ConfigProblem, checkDnsLabel, checkInteger, checkOneOf, describe, parseUrl, throwIfProblems, urlHasUserInfo } from "./validation";
import { componentType, withPreviousType } from "./tokens";
import { checkChartValues, withChartValues } from "./chart-values";
import { monitorSupports } from "./hooks";
import { kubeReader, listRevisionInventory } from "./kube-client";
import {
    deploymentAvailable, guardRevision, inPlaceUpgradeProblem, revisionOfIstiodRelease, validatorNotReadyMessage, validatorOfBaseRelease,
} from "./revision-guard";
import {
    DEFAULT_REVISION_NAME, IstioControlPlane, MeshRevisions, chartRevision, checkMeshRevisions, compareVersions, isIstioVersion,
    istiodReleaseName, istiodResourceName, newestVersion, oldestVersion,
} from "./mesh-revisions";

export { DEFAULT_REVISION_NAME, compareVersions, istiodReleaseName };
export type { IstioControlPlane };

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
    /** Istio version of the one istiod when `controlPlanes` is unset; every chart is pinned to it. Default `1.31.4` (`DEFAULT_ISTIO_VERSION`). */
    version?: string;
    /** Helm repository of the charts (`https://`, `oci://`), or a local directory with one folder per chart. Default the official repository. */
    repository?: string;
    /**
     * Install istiod as this revision (`istio.io/rev`), as a revision-based upgrade does: release
     * `istiod-<revision>`, and the gateway is injected by it. Empty: the default revision. The name
     * `default` is refused: the charts cannot serve it (see checkIstioMeshArgs). Only without `controlPlanes`.
     */
    revision?: string;
    /**
     * The istiods to run side by side, one Helm release each (`istiod` for revision `default`,
     * `istiod-<revision>` otherwise), for a canary upgrade: list a revision to install it, unlist
     * it to remove it (refused while anything still uses it). `base` runs the newest version, the
     * CNI agent the oldest. Unset: one istiod, `revision` at `version`.
     */
    controlPlanes?: IstioControlPlane[];
    /** The revision whose istiod validates Istio config that no revision claims (the `base` chart's `defaultRevision`). Unset: the only control plane; required with several. */
    validatorRevision?: string;
    /** The revision that injects the ingress gateway's pods (the gateway chart's `revision`); changing it rolls the gateway. Unset: the only control plane; required with several. */
    gatewayRevision?: string;
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
    /**
     * Extra Helm values by `<chart>.<path>` (chart `base`, `cni`, `istiod`, `gateway`; `istiod@<revision>`
     * for one control plane), each value's text read as JSON when it parses, else as a string: for what
     * the package does not set, e.g. a remote injector (`istiod.istiodRemote.injectionURL`). Paths the
     * package sets are refused. Default none.
     */
    chartValues?: Record<string, string>;
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
    controlPlanes: [],
    validatorRevision: "",
    gatewayRevision: "",
    platform: "",
    cni: true,
    chartValues: {},
};

/**
 * The control planes as installed: `controlPlanes`, or the one istiod `revision` (the revision-less
 * one when empty) at `version`; the validator and the gateway default to the only control plane.
 */
export function meshRevisions(a: Required<IstioMeshArgs>): MeshRevisions {
    const planes = Array.isArray(a.controlPlanes) && a.controlPlanes.length > 0
        ? a.controlPlanes
        : [{ revision: a.revision || DEFAULT_REVISION_NAME, version: a.version }];
    const only = planes.length === 1 ? planes[0].revision : "";
    return { planes, validator: a.validatorRevision || only, gateway: a.gatewayRevision || only };
}

/** Refuses the one-istiod settings next to `controlPlanes`, as given (before defaults hide what was set). */
export function checkControlPlanesAlone(args: IstioMeshArgs, path: (setting: string) => string = (s) => s): ConfigProblem[] {
    if (!Array.isArray(args.controlPlanes) || args.controlPlanes.length === 0) return [];
    return (["version", "revision"] as const).filter((key) => args[key] !== undefined && args[key] !== "").map((key) => ({
        setting: key,
        message: `is set together with ${path("controlPlanes")}, which replaces it; allowed values: unset (give each istiod's revision and version in ${path("controlPlanes")})`,
    }));
}

/** Checks one Istio version: an exact release, not older than {@link MIN_ISTIO_VERSION}, not known never to exist. */
function checkIstioVersion(setting: string, version: unknown): ConfigProblem[] {
    if (!isIstioVersion(version)) {
        return [{ setting, message: `got ${describe(version)}; allowed values: an exact Istio release such as ${DEFAULT_ISTIO_VERSION}` }];
    }
    if (compareVersions(version, MIN_ISTIO_VERSION) >= 0 && istioReleaseStatus(version) === "never-released") {
        const minor = version.split(".").slice(0, 2).join(".");
        return [{
            setting,
            message: `is ${version}, which is not an Istio release (Istio ${minor} ended at ${minor}.${ISTIO_NEWEST_PATCHES[minor]}); ` +
                `allowed values: an existing release such as ${DEFAULT_ISTIO_VERSION} (releases listed on ${ISTIO_RELEASES_LISTED_ON} at istio.io/latest/news/releases)`,
        }];
    }
    if (compareVersions(version, MIN_ISTIO_VERSION) < 0) {
        return [{
            setting,
            message: `is ${version}, older than ${MIN_ISTIO_VERSION}; allowed values: ${MIN_ISTIO_VERSION} or later (earlier base charts keep their CRDs where Helm never upgrades them; ` +
                "see the README on adopting an older install's CRDs)",
        }];
    }
    return [];
}

/**
 * Checks arguments with defaults applied. `path` names a sibling argument in a message the way the
 * caller's user knows it (BlueGreenEnvironment: `mesh.controlPlanes`).
 */
export function checkIstioMeshArgs(a: Required<IstioMeshArgs>, path: (setting: string) => string = (s) => s): ConfigProblem[] {
    const problems: ConfigProblem[] = [
        ...checkDnsLabel("systemNamespace", a.systemNamespace),
        ...checkDnsLabel("ingressNamespace", a.ingressNamespace),
        ...checkDnsLabel("ingressReleaseName", a.ingressReleaseName, 53),
        ...checkInteger("ingressReplicas", a.ingressReplicas, 2, 100),
        ...checkOneOf("mtlsMode", a.mtlsMode, MTLS_MODES),
    ];
    const listed = Array.isArray(a.controlPlanes) && a.controlPlanes.length > 0;
    if (a.controlPlanes !== undefined && !Array.isArray(a.controlPlanes)) {
        problems.push({ setting: "controlPlanes", message: `got ${describe(a.controlPlanes)}; allowed values: a list of { revision, version }` });
    }
    if (listed) {
        a.controlPlanes.forEach((plane, i) => problems.push(...checkIstioVersion(`controlPlanes[${i}]`, plane?.version)
            .map((p) => ({ ...p, message: `has version ${p.message.replace(/^(got|is) /, "")}` }))));
    } else {
        problems.push(...checkIstioVersion("version", a.version));
    }
    problems.push(...checkChartRepository("repository", a.repository));
    if (a.revision === DEFAULT_REVISION_NAME) {
        problems.push({
            setting: "revision",
            message: `is "${DEFAULT_REVISION_NAME}", which the Istio charts cannot install as a revision: the base chart points the default validating webhook ` +
                `at the Service istiod for it, while the istiod chart creates istiod-${DEFAULT_REVISION_NAME}, so once istiod sets that webhook to Fail ` +
                "every Istio object is refused; allowed values: unset (the default revision) or another name, e.g. canary or 1-31-4",
        });
    } else if (a.revision !== "") problems.push(...checkDnsLabel("revision", a.revision, 40));
    if (a.platform !== "") problems.push(...checkOneOf("platform", a.platform, ISTIO_PLATFORMS));
    if (typeof a.cni !== "boolean") problems.push({ setting: "cni", message: `got ${describe(a.cni)}; allowed values: true, false` });
    if (a.chartValues !== null && typeof a.chartValues === "object" && Array.isArray(a.controlPlanes)) {
        const values = istioChartValues(a);
        problems.push(...checkChartValues("chartValues", a.chartValues, {
            revisions: meshRevisions(a).planes.map((p) => p.revision),
            cni: a.cni === true,
            programValues: (chart, revision) => chart === "istiod" ? istiodChartValues(a, revision!) : values[chart as keyof typeof values],
        }));
    } else if (a.chartValues === null || typeof a.chartValues !== "object") {
        problems.push({ setting: "chartValues", message: `got ${describe(a.chartValues)}; allowed values: a map of <chart>.<path> to the value's text` });
    }
    if (Array.isArray(a.controlPlanes)) {
        const r = meshRevisions(a);
        problems.push(...checkMeshRevisions({ planes: r.planes, validator: a.validatorRevision || undefined, gateway: a.gatewayRevision || undefined, cni: a.cni === true }, path)
            // The one istiod's revision is checked as `revision` above.
            .filter((p) => listed || !p.setting.startsWith("controlPlanes")));
    }
    return problems;
}

/** Warnings for accepted mesh arguments: an Istio version newer than the dated list of releases. */
export function istioMeshWarnings(a: Required<IstioMeshArgs>): ConfigProblem[] {
    const listed = Array.isArray(a.controlPlanes) && a.controlPlanes.length > 0;
    const versions = listed ? a.controlPlanes.map((plane, i) => ({ setting: `controlPlanes[${i}]`, version: plane?.version, what: "has version" }))
        : [{ setting: "version", version: a.version, what: "is" }];
    return versions.filter(({ version }) => isIstioVersion(version) && istioReleaseStatus(version) === "unknown").map(({ setting, version, what }) => ({
        setting,
        message: `${what} ${version}, newer than the Istio releases this package knows (listed on ${ISTIO_RELEASES_LISTED_ON}); it is used as given, ` +
            "and Helm fails the install if the chart repository has no such version (allowed values: any release listed at istio.io/latest/news/releases)",
    }));
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

/**
 * Helm values of the charts, using the 1.24+ charts' own top-level keys (`autoscaleMin`, not the
 * legacy `pilot.*` shim); `istiod` is the first control plane's (istiodChartValues gives each
 * one's). `test/istio-charts.test.ts` checks every key against the charts.
 */
export function istioChartValues(a: Required<IstioMeshArgs>) {
    const labels = gatewayPodLabels(a.ingressReleaseName);
    const revisions = meshRevisions(a);
    const validator = chartRevision(revisions.validator);
    const gatewayRevision = chartRevision(revisions.gateway);
    return {
        // The base chart's default validating webhook points at istiod-<defaultRevision>: with only a
        // revisioned istiod, "default" would name a Service that does not exist.
        base: validator ? { defaultRevision: validator } : {},
        cni: { global: platformGlobal(a) },
        istiod: istiodChartValues(a, revisions.planes[0].revision),
        gateway: {
            ...(gatewayRevision ? { revision: gatewayRevision } : {}),
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
 * Aliases of a revision's istiod Release. Stacks installed before several control planes existed
 * have one istiod under the resource name `<mesh>-istiod`, whatever its revision: the revision that
 * validates config adopts that state (it is the one such a stack has), so the first run of this
 * version plans no change. An alias only applies while the old name is in the state and the new
 * one is not; it is left off when a revision-less istiod (whose own name that is) is listed.
 */
export function istiodAliases(meshName: string, revisions: MeshRevisions, revision: string): pulumi.Alias[] {
    const legacyName = `${meshName}-istiod`;
    if (revision !== revisions.validator || revisions.planes.some((p) => istiodResourceName(meshName, p.revision) === legacyName)) return [];
    return [{ name: legacyName }];
}

/** The charts' `global` values: the platform profile when one is set. */
function platformGlobal(a: Required<IstioMeshArgs>, extra: object = {}) {
    return { ...extra, ...(a.platform ? { platform: a.platform } : {}) };
}

/** Helm values of one revision's istiod (the revision-less one for `default`). */
export function istiodChartValues(a: Required<IstioMeshArgs>, revision: string) {
    const value = chartRevision(revision);
    return {
        ...(value ? { revision: value } : {}),
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
        global: platformGlobal(a, { istioNamespace: a.systemNamespace }),
    };
}

/**
 * Options of IstioMesh: the component options, plus the kubeconfig its guards read the cluster
 * with. A TypeScript option (secrets and hooks do not travel through a multi-language schema);
 * BlueGreenEnvironment passes its own.
 */
export interface IstioMeshOptions extends pulumi.ComponentResourceOptions {
    /** Kubeconfig (contents or path) the guard lists the cluster with before an istiod is deleted. Unset: $KUBECONFIG, else ~/.kube/config. */
    guardKubeconfig?: pulumi.Input<string>;
}

/**
 * The hooks of every istiod Release, named so that the engine finds them when it deletes a release
 * the program no longer declares (a named hook of the same name is registered on every run):
 * before a delete, refuse while anything refers to its revision; before an update, refuse an
 * in-place version change Istio does not support. Hooks run on a real `pulumi up` only (not in
 * previews; the mock monitor cannot register them).
 */
export function istiodHooks(name: string, kubeconfig: pulumi.Input<string> | undefined): pulumi.ResourceHookBinding | undefined {
    if (!monitorSupports("registerResourceHook")) return undefined;
    const config = resolvedLater(kubeconfig);
    const beforeDelete = new pulumi.ResourceHook(`${name}-istiod-guard`, async ({ oldInputs, name: resourceName }) => {
        const revision = revisionOfIstiodRelease(oldInputs);
        if (revision === undefined) return;
        const reader = kubeReader(await config);
        await guardRevision({
            revision,
            release: typeof oldInputs?.name === "string" ? oldInputs.name : resourceName,
            list: () => listRevisionInventory(reader),
            sleep: (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000)),
        });
    });
    const beforeUpdate = new pulumi.ResourceHook(`${name}-istiod-in-place`, ({ oldInputs, newInputs }) => {
        const problem = inPlaceUpgradeProblem(revisionOfIstiodRelease(newInputs) ?? "", oldInputs?.version, newInputs?.version);
        if (problem) throw new Error(problem);
    });
    return { beforeDelete: [beforeDelete], beforeUpdate: [beforeUpdate] };
}

/**
 * The hook of the `base` Release: before an update that moves the default validating webhook to
 * another revision, that revision's istiod must be Available (see validatorNotReadyMessage).
 */
export function baseHooks(name: string, namespace: string, kubeconfig: pulumi.Input<string> | undefined): pulumi.ResourceHookBinding | undefined {
    if (!monitorSupports("registerResourceHook")) return undefined;
    const config = resolvedLater(kubeconfig);
    const beforeUpdate = new pulumi.ResourceHook(`${name}-validator-ready`, async ({ oldInputs, newInputs }) => {
        const [from, to] = [validatorOfBaseRelease(oldInputs), validatorOfBaseRelease(newInputs)];
        if (from === undefined || to === undefined || from === to) return;
        const deployment = to === DEFAULT_REVISION_NAME ? "istiod" : `istiod-${to}`;
        const found = await kubeReader(await config).get(`/apis/apps/v1/namespaces/${namespace}/deployments/${deployment}`);
        if (!deploymentAvailable(found)) throw new Error(validatorNotReadyMessage(from, to, namespace));
    });
    return { beforeUpdate: [beforeUpdate] };
}

/** A value that is known by the time a hook runs (hooks run in updates only, after the cluster and its kubeconfig exist). */
function resolvedLater(value: pulumi.Input<string> | undefined): Promise<string | undefined> {
    return new Promise((resolve) => {
        if (value === undefined) resolve(undefined);
        else pulumi.output(value).apply((v) => resolve(v));
    });
}

/**
 * The child resources of a IstioMesh, for TypeScript programs. Kept out of the class's own fields:
 * Pulumi's schema analyzer turns every field into an output, and these are not outputs.
 */
interface IstioMeshChildren {
    ready: pulumi.Resource[];
    istiods: Record<string, k8s.helm.v3.Release>;
    ingressNamespaceResource: k8s.core.v1.Namespace;
}
const istioMeshChildren = new WeakMap<IstioMesh, IstioMeshChildren>();

/**
 * Istio from its official Helm charts, all pinned to one version: `base` (CRDs), the `cni` node
 * agent, then `istiod` (awaited until ready, so its webhooks answer), then the `gateway` chart as a
 * LoadBalancer ingress gateway in its own namespace; plus mesh-wide STRICT mTLS.
 */
export class IstioMesh extends pulumi.ComponentResource {
    /** The installed Istio version (the newest, with several control planes: the `base` chart's). */
    public readonly version: pulumi.Output<string>;
    /** The ingress gateway's external IP address or hostname. */
    public readonly ingressAddress: pulumi.Output<string>;
    /** Labels selecting the ingress gateway pods, for Istio Gateway resources. */
    public readonly gatewaySelector: Record<string, string>;
    /** Namespace of the ingress gateway pods (where its TLS secrets must live). */
    public readonly ingressNamespace: string;
    /** The revision that validates Istio config (empty: the revision-less istiod). */
    public readonly revision: string;

    constructor(name: string, args: IstioMeshArgs = {}, opts?: IstioMeshOptions) {
        const a: Required<IstioMeshArgs> = { ...ISTIO_DEFAULTS, ...args };
        throwIfProblems([...checkControlPlanesAlone(args), ...checkIstioMeshArgs(a)]);
        const { guardKubeconfig, ...componentOpts } = opts ?? {};
        super(componentType("IstioMesh"), name, {}, withPreviousType(componentOpts, "bluegreen:istio:IstioMesh"));
        const kids = {} as IstioMeshChildren;
        istioMeshChildren.set(this, kids);
        const values = istioChartValues(a);
        const revisions = meshRevisions(a);

        const systemNs = new k8s.core.v1.Namespace(`${name}-system-namespace`, {
            metadata: { name: a.systemNamespace, labels: { "app.kubernetes.io/managed-by": "pulumi" } },
        }, { parent: this });
        const release = (resourceName: string, releaseName: string, chart: string, version: string, namespace: string,
            chartValues: object, options: pulumi.CustomResourceOptions) =>
            new k8s.helm.v3.Release(resourceName, {
                // An explicit release name: auto-naming would add a suffix, and the gateway chart
                // derives its pod labels from the release name.
                name: releaseName,
                ...chartSource(a.repository, chart),
                version,
                namespace,
                values: chartValues,
                // Wait until every object is ready: istiod must answer its webhooks before anything
                // creates Istio resources or pods.
                skipAwait: false,
                timeout: 600,
                ...HELM_RECOVERY,
            }, { parent: this, ...options });

        // The CNI agent must run on a node before injected pods start there: every istiod (and so
        // everything injected) comes after it. It runs the oldest version, within one minor of all.
        const cni = a.cni ? [release(`${name}-cni`, "istio-cni", ISTIO_CHARTS.cni, oldestVersion(revisions.planes), a.systemNamespace, withChartValues(values.cni, a.chartValues, "cni"),
            { dependsOn: [systemNs] })] : [];
        const istiods: Record<string, k8s.helm.v3.Release> = {};
        const hooks = istiodHooks(name, guardKubeconfig);
        const istiod = (plane: IstioControlPlane, dependsOn: pulumi.Resource[]) => {
            istiods[plane.revision] = release(istiodResourceName(name, plane.revision), istiodReleaseName(plane.revision), ISTIO_CHARTS.istiod,
                plane.version, a.systemNamespace, withChartValues(istiodChartValues(a, plane.revision), a.chartValues, "istiod", plane.revision),
                // A replacement (the one-step istioRevision change renames the release through the
                // alias) deletes the old istiod first, so the guard refuses it before anything is
                // created: created first, the old release would stay behind as a pending delete
                // whose name a revert could not reinstall ("cannot re-use a name that is still in use").
                { dependsOn, aliases: istiodAliases(name, revisions, plane.revision), hooks, deleteBeforeReplace: true });
            return istiods[plane.revision];
        };
        // One control plane: base (the CRDs) first, then istiod. Several: the validator's istiod is
        // ready before base points the default validating webhook at it (the CRDs are there: the
        // first istiod installed them), and every other istiod comes after base, whose CRDs follow
        // the newest version.
        const several = revisions.planes.length > 1;
        const validatorPlane = revisions.planes.find((p) => p.revision === revisions.validator)!;
        const validatorFirst = several ? [istiod(validatorPlane, [systemNs, ...cni])] : [];
        const base = release(`${name}-base`, "istio-base", ISTIO_CHARTS.base, newestVersion(revisions.planes), a.systemNamespace, withChartValues(values.base, a.chartValues, "base"),
            { dependsOn: [systemNs, ...validatorFirst], hooks: baseHooks(name, a.systemNamespace, guardKubeconfig) });
        for (const plane of revisions.planes) if (!istiods[plane.revision]) istiod(plane, [base, ...cni]);

        // The gateway pods are injected with the "gateway" template: their namespace must not carry
        // istio-injection=disabled.
        const ingressNs = new k8s.core.v1.Namespace(`${name}-ingress-namespace`, {
            metadata: { name: a.ingressNamespace, labels: { "app.kubernetes.io/managed-by": "pulumi" } },
        }, { parent: this });
        const gatewayPlane = revisions.planes.find((p) => p.revision === revisions.gateway)!;
        const gateway = release(`${name}-gateway`, a.ingressReleaseName, ISTIO_CHARTS.gateway, gatewayPlane.version, a.ingressNamespace, withChartValues(values.gateway, a.chartValues, "gateway"),
            { dependsOn: [istiods[revisions.gateway], ingressNs] });

        new k8s.apiextensions.CustomResource(`${name}-mtls`, {
            apiVersion: "security.istio.io/v1",
            kind: "PeerAuthentication",
            // "default" in the root namespace applies mesh-wide.
            metadata: { name: "default", namespace: a.systemNamespace },
            spec: { mtls: { mode: a.mtlsMode } },
        }, { parent: this, dependsOn: [istiods[revisions.validator]] });

        // The gateway chart names its Service after the release. The ID comes from the release's
        // outputs, unknown until the release exists: the engine then skips the read during a
        // preview instead of failing on a Service that a later step creates.
        const ingressService = k8s.core.v1.Service.get(`${name}-ingress-service`,
            gateway.status.apply((st) => `${st.namespace}/${st.name}`), { parent: this, dependsOn: [gateway] });
        this.ingressAddress = ingressService.status.apply((st) =>
            st?.loadBalancer?.ingress?.[0]?.ip ?? st?.loadBalancer?.ingress?.[0]?.hostname ?? "");

        this.version = pulumi.output(newestVersion(revisions.planes));
        this.gatewaySelector = { istio: gatewayPodLabels(a.ingressReleaseName).istio };
        kids.ready = [base, ...cni, ...Object.values(istiods)];
        kids.istiods = istiods;
        this.ingressNamespace = a.ingressNamespace;
        kids.ingressNamespaceResource = ingressNs;
        this.revision = chartRevision(revisions.validator);

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

    /** Each control plane's istiod Release, by revision (`default`: the revision-less istiod). */
    get istiods(): Record<string, k8s.helm.v3.Release> {
        return istioMeshChildren.get(this)!.istiods;
    }

    /** The ingress gateway's namespace resource: objects placed there (a Certificate) wait for it. */
    get ingressNamespaceResource(): k8s.core.v1.Namespace {
        return istioMeshChildren.get(this)!.ingressNamespaceResource;
    }
}
