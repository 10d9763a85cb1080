// Collection of the per-color golden signals: Managed Service for Prometheus scrape objects for the
// workload's sidecars and the ingress gateway, each keeping only the series the health gate and the
// dashboard read (components/health-queries.ts). Nothing here depends on activeColor: both colors
// are scraped all the time, so a switch still changes only the VirtualService.
import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import { SCRAPE_INTERVAL_SECONDS, SeriesFilter, gatewaySeriesFilter, sidecarSeriesFilter } from "./health-queries";
import { componentType } from "./tokens";
import { commonLabels } from "./workload";

/** The API group and version of Managed Service for Prometheus's scrape objects. */
export const MANAGED_PROMETHEUS_API = "monitoring.googleapis.com/v1";

/** The container port Istio's proxies (sidecars and gateways) serve Envoy's stats on (15090). */
export const ENVOY_STATS_PORT = "http-envoy-prom";

/** The path of Envoy's stats in Prometheus format, Istio's standard metrics included. */
export const ENVOY_STATS_PATH = "/stats/prometheus";

export { SCRAPE_INTERVAL_SECONDS } from "./health-queries";

/** The spec of a PodMonitoring (only the fields used here; names as in the upstream CRD). */
export interface PodMonitoringSpec {
    /** The pods scraped, in the PodMonitoring's own namespace. */
    selector: { matchLabels: Record<string, string> };
    /** The endpoint scraped on each pod. */
    endpoints: {
        port: string;
        path: string;
        scheme: string;
        interval: string;
        metricRelabeling: { action: string; sourceLabels: string[]; separator: string; regex: string }[];
    }[];
}

/** A PodMonitoring spec scraping Envoy's stats of the selected pods, keeping only what `filter` matches. */
export function buildEnvoyPodMonitoringSpec(podLabels: Record<string, string>, filter: SeriesFilter): PodMonitoringSpec {
    return {
        selector: { matchLabels: podLabels },
        endpoints: [{
            port: ENVOY_STATS_PORT,
            path: ENVOY_STATS_PATH,
            scheme: "http",
            interval: `${SCRAPE_INTERVAL_SECONDS}s`,
            metricRelabeling: [{ action: "keep", sourceLabels: filter.sourceLabels, separator: ";", regex: filter.regex }],
        }],
    };
}

/** The name of the PodMonitoring of the app's sidecars (in the workload namespace). */
export function sidecarPodMonitoringName(app: string): string {
    return `${app}-sidecars`;
}

/** The name of the app's PodMonitoring in the gateway's namespace (one per app: each keeps only its own series). */
export function gatewayPodMonitoringName(app: string): string {
    return `${app}-ingress-gateway`;
}

/** Arguments of WorkloadTelemetry. */
export interface WorkloadTelemetryArgs {
    /** The workload namespace; its sidecars are scraped there. */
    namespace: string;
    /** The app name: its pods carry the label `app: <appName>`, its Service has this name. */
    appName: string;
    /** The namespace of the ingress gateway's pods. */
    gatewayNamespace: string;
    /** Pod labels of the ingress gateway. */
    gatewaySelector: Record<string, string>;
}

/** Resource options of WorkloadTelemetry: what each scrape object waits for. */
export interface WorkloadTelemetryOptions extends pulumi.ComponentResourceOptions {
    /** The workload namespace's resource (created or labelled by the workload). */
    workloadNamespace?: pulumi.Resource;
    /** The gateway namespace's resource, when this stack creates it. */
    gatewayNamespace?: pulumi.Resource;
}

/**
 * The scrape objects of one app for Managed Service for Prometheus: a PodMonitoring for the
 * sidecars of both colors and one for the ingress gateway, each filtered to the health metrics.
 * Needs the PodMonitoring CRD on the cluster (GKE with Managed Prometheus on, as GkeCluster builds it).
 */
export class WorkloadTelemetry extends pulumi.ComponentResource {
    constructor(name: string, args: WorkloadTelemetryArgs, opts?: WorkloadTelemetryOptions) {
        const { workloadNamespace, gatewayNamespace, ...componentOpts } = opts ?? {};
        super(componentType("WorkloadTelemetry"), name, {}, componentOpts);
        const podMonitoring = (resourceName: string, objectName: string, namespace: string, spec: PodMonitoringSpec, after?: pulumi.Resource) =>
            new k8s.apiextensions.CustomResource(resourceName, {
                apiVersion: MANAGED_PROMETHEUS_API,
                kind: "PodMonitoring",
                metadata: { name: objectName, namespace, labels: commonLabels(args.appName) },
                spec,
            }, { parent: this, dependsOn: after ? [after] : [] });
        podMonitoring(`${name}-sidecars`, sidecarPodMonitoringName(args.appName), args.namespace,
            buildEnvoyPodMonitoringSpec({ app: args.appName }, sidecarSeriesFilter()), workloadNamespace);
        podMonitoring(`${name}-gateway`, gatewayPodMonitoringName(args.appName), args.gatewayNamespace,
            buildEnvoyPodMonitoringSpec(args.gatewaySelector, gatewaySeriesFilter({ namespace: args.namespace, app: args.appName })), gatewayNamespace);
        this.registerOutputs({});
    }
}
