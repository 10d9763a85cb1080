import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { ConfigProblem, checkDnsLabel, checkInteger, checkOneOf, describe, throwIfProblems } from "./validation";

/** The official Istio Helm chart repository. */
export const ISTIO_CHART_REPOSITORY = "https://istio-release.storage.googleapis.com/charts";

/**
 * The Istio version installed by default: a supported release whose Kubernetes range covers what
 * GKE's REGULAR channel runs. Every chart is pinned to it, and the e2e test applies the CRDs of
 * the same version.
 */
export const DEFAULT_ISTIO_VERSION = "1.31.4";

/** Mesh-wide mutual TLS modes for the root-namespace PeerAuthentication. */
export const MTLS_MODES = ["STRICT", "PERMISSIVE"] as const;
/** One mutual TLS mode. */
export type MtlsMode = (typeof MTLS_MODES)[number];

/** Arguments of {@link IstioMesh}. */
export interface IstioMeshArgs {
    /** Istio version; every chart is pinned to it. Default {@link DEFAULT_ISTIO_VERSION}. */
    version?: string;
    /** Helm repository of the charts. Default the official one. */
    repository?: string;
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
    }
    if (typeof a.repository !== "string" || !/^(https|oci):\/\//.test(a.repository)) {
        problems.push({ setting: "repository", message: `got ${describe(a.repository)}; allowed values: an https:// or oci:// chart repository` });
    }
    return problems;
}

/**
 * The labels the `gateway` chart puts on its pods: `app: <release>` and `istio: <release without
 * "istio-">` (manifests/charts/gateway/templates/_helpers.tpl). They are passed to the chart as its
 * `labels` value too, so the Gateway selector and the pods cannot drift apart.
 */
export function gatewayPodLabels(releaseName: string): { app: string; istio: string } {
    return { app: releaseName, istio: releaseName.replace(/^istio-/, "") };
}

/** Helm values of the three charts. */
export function istioChartValues(a: Required<IstioMeshArgs>) {
    const labels = gatewayPodLabels(a.ingressReleaseName);
    return {
        base: {},
        istiod: {
            meshConfig: a.accessLogging ? { accessLogFile: "/dev/stdout", accessLogEncoding: "JSON" } : {},
            pilot: { autoscaleMin: 2, replicaCount: 2 },
            global: { istioNamespace: a.systemNamespace },
        },
        gateway: {
            labels,
            replicaCount: a.ingressReplicas,
            autoscaling: { enabled: true, minReplicas: a.ingressReplicas, maxReplicas: Math.max(5, a.ingressReplicas * 2) },
            podDisruptionBudget: { minAvailable: 1 },
            service: { type: "LoadBalancer" },
        },
    };
}

/**
 * Istio from its official Helm charts, all pinned to one version: `base` (CRDs), then `istiod`
 * (awaited until ready, so its webhooks answer), then the `gateway` chart as a LoadBalancer
 * ingress gateway in its own namespace; plus mesh-wide STRICT mTLS.
 */
export class IstioMesh extends pulumi.ComponentResource {
    /** The installed Istio version. */
    public readonly version: pulumi.Output<string>;
    /** The ingress gateway's external IP address or hostname. */
    public readonly ingressAddress: pulumi.Output<string>;
    /** Labels selecting the ingress gateway pods, for Istio Gateway resources. */
    public readonly gatewaySelector: Record<string, string>;
    /** What Istio resources must wait for: the CRDs and a ready istiod. */
    public readonly ready: pulumi.Resource[];
    /** Namespace of the ingress gateway pods (where its TLS secrets must live). */
    public readonly ingressNamespace: string;

    constructor(name: string, args: IstioMeshArgs = {}, opts?: pulumi.ComponentResourceOptions) {
        const a: Required<IstioMeshArgs> = { ...ISTIO_DEFAULTS, ...args };
        throwIfProblems(checkIstioMeshArgs(a));
        super("bluegreen:istio:IstioMesh", name, {}, opts);
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
                chart,
                version: a.version,
                namespace,
                repositoryOpts: { repo: a.repository },
                values: chartValues,
                // Wait until every object is ready: istiod must answer its webhooks before anything
                // creates Istio resources or pods.
                skipAwait: false,
                timeout: 600,
                atomic: false,
            }, { parent: this, dependsOn });

        const base = release(`${name}-base`, "istio-base", "base", a.systemNamespace, values.base, [systemNs]);
        const istiod = release(`${name}-istiod`, "istiod", "istiod", a.systemNamespace, values.istiod, [base]);

        // The gateway pods are injected with the "gateway" template: their namespace must not carry
        // istio-injection=disabled.
        const ingressNs = new k8s.core.v1.Namespace(`${name}-ingress-namespace`, {
            metadata: { name: a.ingressNamespace, labels: { "app.kubernetes.io/managed-by": "pulumi" } },
        }, { parent: this });
        const gateway = release(`${name}-gateway`, a.ingressReleaseName, "gateway", a.ingressNamespace, values.gateway, [istiod, ingressNs]);

        new k8s.apiextensions.CustomResource(`${name}-mtls`, {
            apiVersion: "security.istio.io/v1",
            kind: "PeerAuthentication",
            // "default" in the root namespace applies mesh-wide.
            metadata: { name: "default", namespace: a.systemNamespace },
            spec: { mtls: { mode: a.mtlsMode } },
        }, { parent: this, dependsOn: [istiod] });

        // The gateway chart names its Service after the release.
        const ingressService = k8s.core.v1.Service.get(`${name}-ingress-service`,
            `${a.ingressNamespace}/${a.ingressReleaseName}`, { parent: this, dependsOn: [gateway] });
        this.ingressAddress = ingressService.status.apply((s) =>
            s?.loadBalancer?.ingress?.[0]?.ip ?? s?.loadBalancer?.ingress?.[0]?.hostname ?? "");

        this.version = pulumi.output(a.version);
        this.gatewaySelector = { istio: gatewayPodLabels(a.ingressReleaseName).istio };
        this.ready = [base, istiod];
        this.ingressNamespace = a.ingressNamespace;

        this.registerOutputs({
            version: this.version,
            ingressAddress: this.ingressAddress,
            gatewaySelector: this.gatewaySelector,
        });
    }
}
