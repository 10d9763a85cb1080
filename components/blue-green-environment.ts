import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import {
    BLUE_GREEN_DEFAULTS, BlueGreenService, ColorsArgs, CurlCommands, ResolvedBlueGreenServiceArgs, WorkloadArgs, checkBlueGreenServiceArgs, pinnedImage,
    reservedNamespaces, resolveBlueGreenServiceArgs,
} from "./blue-green-service";
import { CERT_MANAGER_DEFAULTS, CertManager, CertManagerArgs, checkCertManagerArgs } from "./cert-manager";
import { TlsArgs } from "./delivery";
import { GkeCluster, GkeClusterArgs, checkGkeClusterArgs, gkeClusterWarnings, requireGcpInstalled, resolveGkeClusterArgs } from "./gke-cluster";
import { ISTIO_DEFAULTS, ISTIO_PLATFORMS, IstioMesh, IstioMeshArgs, IstioPlatform, checkIstioMeshArgs, istioMeshWarnings } from "./istio-mesh";
import { HealthGateArgs } from "./health-gate";
import { managedPrometheusQueryUrl } from "./health-verdict";
import { COLORS, Color } from "./routing";
import { ConfigProblem, checkDnsLabel, checkOwnNamespace, cidrsCoverEverything, describe, throwIfProblems } from "./validation";
import { componentType, withPreviousType } from "./tokens";

/** Arguments of BlueGreenEnvironment. */
export interface BlueGreenEnvironmentArgs {
    /** Build a GKE cluster with these settings. Omit to target an existing cluster through `kubeconfig`. */
    cluster?: GkeClusterArgs;
    /** Kubeconfig (path or contents) of an existing cluster; only without `cluster`. Unset: the ambient kubeconfig. May come from another resource. */
    kubeconfig?: pulumi.Input<string>;
    /**
     * The existing cluster's identity for the Kubernetes provider (`clusterIdentifier`); only without
     * `cluster`. The provider, and every Kubernetes resource with it, is replaced only when this
     * changes, never because the kubeconfig's endpoint, CA or context name changed. Change it when
     * the stack moves to a different cluster. Default `existing-cluster`.
     */
    clusterIdentifier?: string;
    /** Install Istio here (default true), or false to use the Istio the cluster already runs. */
    installMesh?: boolean;
    /** Settings of the Istio installed here; only with `installMesh` (default settings when unset). */
    mesh?: IstioMeshArgs;
    /** Pod labels of the existing ingress gateway; only with `installMesh: false`. Default `{ istio: "ingressgateway" }`. */
    existingGatewaySelector?: Record<string, string>;
    /** Namespace of the existing ingress gateway's pods (for TLS secrets); only with `installMesh: false`. Default `istio-system`. */
    existingGatewayNamespace?: string;
    /** Install cert-manager with these settings (for `workload.tls.certificate`); unset (default): use one already there. */
    certManager?: CertManagerArgs;
    /** The blue-green workload; its gateway selector, mesh dependencies, TLS namespace and ingress address are wired here. */
    workload: WorkloadArgs;
}

/** The mesh arguments as installed here, or false for an existing mesh. */
export function installedMesh(args: Pick<BlueGreenEnvironmentArgs, "installMesh" | "mesh">): IstioMeshArgs | false {
    return args.installMesh === false ? false : args.mesh ?? {};
}

/** The identity of an existing cluster when none is given: stable, so kubeconfig edits never replace the provider. */
export const DEFAULT_CLUSTER_IDENTIFIER = "existing-cluster";

/** The namespace of the ingress gateway pods: the installed mesh's, or the existing one's. */
export function gatewayNamespaceOf(args: Pick<BlueGreenEnvironmentArgs, "installMesh" | "mesh" | "existingGatewayNamespace">): string {
    const installed = installedMesh(args);
    return installed !== false ? installed.ingressNamespace ?? ISTIO_DEFAULTS.ingressNamespace : args.existingGatewayNamespace ?? "istio-system";
}

/**
 * The mesh as this environment installs it: istiod runs as the revision the workload is injected
 * with (a namespace labelled `istio.io/rev: <rev>` with no istiod of that revision starts its pods
 * without sidecars, silently), and on a cluster built here the charts use the GKE platform profile.
 */
export function meshOf(args: Pick<BlueGreenEnvironmentArgs, "installMesh" | "mesh" | "cluster" | "workload">): Required<IstioMeshArgs> | false {
    const installed = installedMesh(args);
    if (installed === false) return false;
    return {
        ...ISTIO_DEFAULTS,
        ...installed,
        revision: installed.revision ?? args.workload.istioRevision ?? "",
        platform: installed.platform ?? (args.cluster ? "gke" : ""),
    };
}

/**
 * The workload's health gate with its query URL: the one given, or on a cluster built here Managed
 * Prometheus's query API for the cluster's project (the cluster has Managed Prometheus on).
 */
export function workloadHealthGate(args: Pick<BlueGreenEnvironmentArgs, "cluster" | "workload">): HealthGateArgs | undefined {
    const gate = args.workload.healthGate;
    if (gate?.queryUrl !== undefined || !args.cluster) return gate;
    return { ...gate, queryUrl: managedPrometheusQueryUrl(args.cluster.project) };
}

/** The workload's TLS arguments with the gateway namespace filled in. */
function workloadTls(args: BlueGreenEnvironmentArgs): TlsArgs | undefined {
    return args.workload.tls ? { ...args.workload.tls, gatewayNamespace: gatewayNamespaceOf(args) } : undefined;
}

/**
 * The workload's colors with images that come from other resources checked, when they resolve,
 * under this environment's names (`workload.colors.<color>.image`), as known images are up front.
 */
function checkedColors(colors: ColorsArgs | undefined): ColorsArgs | undefined {
    if (!colors) return colors;
    const checked: ColorsArgs = { ...colors };
    for (const color of COLORS) {
        const spec = colors[color];
        if (spec) checked[color] = { ...spec, image: pinnedImage(`workload.colors.${color}.image`, spec.image) };
    }
    return checked;
}

/** Prefixes the setting of each problem with the part it belongs to (`cluster.`, `mesh.`, `workload.`). */
function under(prefix: string, problems: ConfigProblem[]): ConfigProblem[] {
    return problems.map((p) => ({ ...p, setting: `${prefix}.${p.setting}` }));
}

/** Checks every part of the environment; problems are named `cluster.<arg>`, `mesh.<arg>`, `workload.<arg>`. */
export function checkBlueGreenEnvironmentArgs(args: BlueGreenEnvironmentArgs): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    if (args.cluster && args.kubeconfig !== undefined) {
        problems.push({ setting: "kubeconfig", message: "is set together with cluster; allowed values: either build a cluster or target an existing one through kubeconfig" });
    }
    if (args.clusterIdentifier !== undefined) {
        if (args.cluster) {
            problems.push({ setting: "clusterIdentifier", message: "is set together with cluster; allowed values: unset (a built cluster is identified by project, location and name)" });
        } else {
            if (typeof args.clusterIdentifier !== "string" || !/^[A-Za-z0-9][A-Za-z0-9_.:\/-]{0,252}$/.test(args.clusterIdentifier)) {
                problems.push({ setting: "clusterIdentifier", message: `got ${describe(args.clusterIdentifier)}; allowed values: letters, digits and _ . : / - (at most 253), e.g. gke_my-project_us-central1_prod` });
            }
        }
    }
    const installed = installedMesh(args);
    for (const setting of ["existingGatewaySelector", "existingGatewayNamespace"] as const) {
        if (installed !== false && args[setting] !== undefined) {
            problems.push({ setting, message: "is set while Istio is installed here; allowed values: unset (the installed gateway's are used) or set installMesh to false" });
        }
    }
    if (args.installMesh !== undefined && typeof args.installMesh !== "boolean") {
        problems.push({ setting: "installMesh", message: `got ${describe(args.installMesh)}; allowed values: true, false` });
    } else if (installed === false && args.mesh !== undefined) {
        problems.push({ setting: "mesh", message: "is set while installMesh is false; allowed values: unset (the cluster's own Istio is used) or set installMesh to true" });
    }
    if (args.certManager) problems.push(...under("certManager", checkCertManagerArgs({ ...CERT_MANAGER_DEFAULTS, ...args.certManager })));
    // Namespaces this environment installs into besides the workload's (the workload itself refuses Kubernetes' and Istio's).
    const taken = [
        ...(installed !== false ? [{ name: installed.systemNamespace ?? ISTIO_DEFAULTS.systemNamespace, owner: "the Istio control plane" }] : []),
        // An existing gateway may share a namespace the workload does not create (it only labels it); an installed one owns its namespace.
        ...(installed !== false || args.workload.createNamespace !== false ? [{ name: gatewayNamespaceOf(args), owner: "the ingress gateway" }] : []),
        ...(args.certManager ? [{ name: args.certManager.namespace ?? CERT_MANAGER_DEFAULTS.namespace, owner: "cert-manager" }] : []),
    ].filter((r) => !reservedNamespaces(workloadTls(args)?.gatewayNamespace).some((s) => s.name === r.name));
    problems.push(...under("workload", checkOwnNamespace("namespace", args.workload.namespace ?? BLUE_GREEN_DEFAULTS.namespace, taken)));
    if (args.cluster) problems.push(...under("cluster", checkGkeClusterArgs(resolveGkeClusterArgs(args.cluster))));
    const mesh = meshOf(args);
    if (mesh !== false) {
        // A revision taken from the workload is checked there; report it once.
        const revisionFromWorkload = installed !== false && installed.revision === undefined;
        problems.push(...under("mesh", checkIstioMeshArgs(mesh)).filter((p) => !(revisionFromWorkload && p.setting === "mesh.revision" &&
            checkDnsLabel("istioRevision", mesh.revision).length > 0)));
        // The CNI agent installs into the node's CNI directory, which only the matching platform profile finds
        // (GKE keeps it in /home/kubernetes/bin): on the cluster built here, any other profile breaks every pod's networking.
        if (args.cluster && mesh.cni === true && mesh.platform !== IstioPlatform.Gke && (mesh.platform === IstioPlatform.None || ISTIO_PLATFORMS.includes(mesh.platform))) {
            problems.push({
                setting: "mesh.platform",
                message: `is ${describe(mesh.platform)} but this stack builds a GKE cluster, and Istio CNI needs the platform profile of the cluster it runs on; ` +
                    "allowed values: gke (the default here: leave it unset)",
            });
        }
        if ((args.workload.istioRevision ?? "") !== mesh.revision) {
            problems.push({
                setting: "workload.istioRevision",
                message: `is ${describe(args.workload.istioRevision)} but the installed istiod is revision ${describe(mesh.revision)}; ` +
                    "allowed values: the same revision (pods labelled for a revision no istiod serves start without a sidecar)",
            });
        }
    }
    problems.push(...under("workload", checkBlueGreenServiceArgs(resolvedWorkload(args))));
    return problems;
}

/**
 * The workload's arguments with defaults applied, wired into this environment (gateway namespace,
 * TLS namespace). Without an existing gateway the default selector stands in: the mesh supplies
 * the real one when the environment is built.
 */
export function resolvedWorkload(args: BlueGreenEnvironmentArgs): ResolvedBlueGreenServiceArgs {
    return resolveBlueGreenServiceArgs({
        ...args.workload,
        gatewaySelector: args.existingGatewaySelector,
        gatewayNamespace: gatewayNamespaceOf(args),
        tls: workloadTls(args),
        healthGate: workloadHealthGate(args),
    });
}

/**
 * Values the environment accepts but cannot confirm, checked against dated lists that cannot know
 * what came out after them (Istio releases, GCP regions and machine series): named like the
 * problems of {@link checkBlueGreenEnvironmentArgs}, for the caller to show as warnings.
 */
export function checkBlueGreenEnvironmentWarnings(args: BlueGreenEnvironmentArgs): ConfigProblem[] {
    const mesh = meshOf(args);
    const sources = args.workload.previewAccess?.mode !== "open" ? args.workload.previewAccess?.sourceCidrs ?? [] : [];
    return [
        ...(args.cluster ? under("cluster", gkeClusterWarnings(resolveGkeClusterArgs(args.cluster))) : []),
        ...(mesh !== false ? under("mesh", istioMeshWarnings(mesh)) : []),
        // Allowed addresses that add up to every address are previewAccess open under another name.
        ...(Array.isArray(sources) && cidrsCoverEverything(sources) ? [{
            setting: "workload.previewAccess.sourceCidrs",
            message: "together cover every IPv4 address, so anyone on the internet can reach the idle color with the color header, as with previewAccess open; " +
                "allowed values: the addresses of the people who test the idle color, e.g. 203.0.113.0/24",
        }] : []),
    ];
}

/**
 * The child resources of a BlueGreenEnvironment, for TypeScript programs. Kept out of the class's own fields:
 * Pulumi's schema analyzer turns every field into an output, and these are not outputs.
 */
interface BlueGreenEnvironmentChildren {
    provider: k8s.Provider;
    cluster?: GkeCluster;
    mesh?: IstioMesh;
    workload: BlueGreenService;
}
const blueGreenEnvironmentChildren = new WeakMap<BlueGreenEnvironment, BlueGreenEnvironmentChildren>();

/**
 * The whole environment in one component: a GKE cluster (or an existing cluster), Istio from its
 * Helm charts (or an existing mesh), and the blue-green workload, wired through one Kubernetes
 * provider so nothing falls back to an ambient kubeconfig when the stack builds its own cluster.
 */
export class BlueGreenEnvironment extends pulumi.ComponentResource {
    /** The GKE cluster's name, or an empty string for an existing cluster. */
    public readonly clusterName: pulumi.Output<string>;
    /** Kubeconfig of the cluster (secret); empty for an existing cluster targeted by the ambient kubeconfig. */
    public readonly kubeconfig: pulumi.Output<string>;
    /** External address of the ingress gateway (empty when Istio was not installed here). */
    public readonly ingressAddress: pulumi.Output<string>;
    /** The installed Istio version (empty when Istio was not installed here). */
    public readonly istioVersion: pulumi.Output<string>;
    /** The color receiving ordinary traffic. */
    public readonly activeColor: pulumi.Output<Color>;
    /** The other color. */
    public readonly idleColor: pulumi.Output<Color>;
    /** curl commands reaching each color through the gateway. */
    public readonly curlCommands: pulumi.Output<CurlCommands>;

    constructor(name: string, args: BlueGreenEnvironmentArgs, opts?: pulumi.ComponentResourceOptions) {
        // Validate every part before registering anything, so bad input never leaves a half-built stack.
        throwIfProblems(checkBlueGreenEnvironmentArgs(args));
        // A cluster needs @pulumi/gcp (an optional peer): say so before the environment registers.
        if (args.cluster) requireGcpInstalled();
        super(componentType("BlueGreenEnvironment"), name, {}, withPreviousType(opts, "bluegreen:index:BlueGreenEnvironment"));
        const kids = {} as BlueGreenEnvironmentChildren;
        blueGreenEnvironmentChildren.set(this, kids);

        if (args.cluster) {
            kids.cluster = new GkeCluster(`${name}-gke`, args.cluster, { parent: this });
            kids.provider = kids.cluster.provider;
        } else {
            // A kubeconfig may carry credentials (tokens, client keys): a secret in the state and in previews.
            kids.provider = new k8s.Provider(`${name}-k8s`, {
                kubeconfig: args.kubeconfig === undefined ? undefined : pulumi.secret(args.kubeconfig),
                clusterIdentifier: args.clusterIdentifier ?? DEFAULT_CLUSTER_IDENTIFIER,
            }, { parent: this });
        }
        const providerOpts = { parent: this, providers: [kids.provider] };

        const mesh = meshOf(args);
        if (mesh !== false) {
            kids.mesh = new IstioMesh(`${name}-istio`, mesh, providerOpts);
        }
        const certManager = args.certManager ? new CertManager(`${name}-cert-manager`, args.certManager, providerOpts) : undefined;
        kids.workload = new BlueGreenService(`${name}-app`, {
            ...args.workload,
            colors: checkedColors(args.workload.colors),
            tls: workloadTls(args),
            healthGate: workloadHealthGate(args),
            gatewaySelector: kids.mesh?.gatewaySelector ?? args.existingGatewaySelector,
            gatewayNamespace: gatewayNamespaceOf(args),
            ingressAddress: kids.mesh?.ingressAddress,
        }, {
            ...providerOpts,
            istioDependencies: kids.mesh?.ready,
            certManagerDependencies: certManager?.ready,
            // The Certificate and the preview policy live in the gateway's namespace: they wait for it.
            gatewayDependencies: kids.mesh ? [kids.mesh.ingressNamespaceResource] : [],
        });

        this.clusterName = kids.cluster?.clusterName ?? pulumi.output("");
        this.kubeconfig = kids.cluster?.kubeconfig ?? pulumi.secret(pulumi.output(args.kubeconfig ?? ""));
        this.ingressAddress = kids.mesh?.ingressAddress ?? pulumi.output("");
        this.istioVersion = kids.mesh?.version ?? pulumi.output("");
        this.activeColor = kids.workload.activeColor;
        this.idleColor = kids.workload.idleColor;
        this.curlCommands = kids.workload.curlCommands;

        this.registerOutputs({
            clusterName: this.clusterName,
            kubeconfig: this.kubeconfig,
            ingressAddress: this.ingressAddress,
            istioVersion: this.istioVersion,
            activeColor: this.activeColor,
            idleColor: this.idleColor,
            curlCommands: this.curlCommands,
        });
    }

    /** The Kubernetes provider every Kubernetes resource uses. */
    get provider(): k8s.Provider {
        return blueGreenEnvironmentChildren.get(this)!.provider;
    }

    /** The cluster component, when one is built. */
    get cluster(): GkeCluster | undefined {
        return blueGreenEnvironmentChildren.get(this)!.cluster;
    }

    /** The mesh component, when Istio is installed. */
    get mesh(): IstioMesh | undefined {
        return blueGreenEnvironmentChildren.get(this)!.mesh;
    }

    /** The workload component. */
    get workload(): BlueGreenService {
        return blueGreenEnvironmentChildren.get(this)!.workload;
    }
}
