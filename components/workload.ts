import type * as pulumi from "@pulumi/pulumi";
// Pure builders for the Kubernetes side of the blue-green workload: namespace labels, one
// Deployment per color and the color-agnostic Service.
import type * as k8s from "@pulumi/kubernetes";
import { DrainSettings, preStopHook, terminationGracePeriod } from "./rollout";
import { Color, VERSION_LABEL } from "./routing";

/** The port the stock nginx image listens on. */
export const CONTAINER_PORT = 80;

/** Image and replica count of one color. */
export interface ColorSpec {
    /** Container image, pinned to a tag or digest; may come from another resource (an image built in the same program). */
    image: pulumi.Input<string>;
    /** Number of pods; 0 parks the color. */
    replicas: number;
    /**
     * The Istio revision that injects this color's pods (pod label `istio.io/rev`; `default` is the
     * revision-less istiod). Set on both colors or on neither: pinned colors take the injection label
     * off the namespace, since a pod's label never overrides a namespace's. Changing it rolls this
     * color's pods. Unset: the namespace's revision.
     */
    istioRevision?: string;
}

/** CPU and memory requests and limits of the app container. */
export interface ContainerResources {
    /** What the scheduler reserves, e.g. `{ cpu: "50m", memory: "64Mi" }`. */
    requests: ResourceQuantities;
    /** The ceiling, e.g. `{ cpu: "500m", memory: "128Mi" }`. */
    limits: ResourceQuantities;
}

/** CPU and memory quantities, in Kubernetes notation. */
export interface ResourceQuantities {
    /** CPU, e.g. `50m`. */
    cpu: string;
    /** Memory, e.g. `64Mi`. */
    memory: string;
}

/** Requests and limits that fit nginx serving static content. */
export const DEFAULT_RESOURCES: ContainerResources = {
    requests: { cpu: "50m", memory: "64Mi" },
    limits: { cpu: "500m", memory: "128Mi" },
};

/** Namespace labels turning on sidecar injection: the revision label when a revision is given, never both. */
export function injectionLabels(istioRevision?: string): Record<string, string> {
    return istioRevision ? { "istio.io/rev": istioRevision } : { "istio-injection": "enabled" };
}

/**
 * Pod Security levels the workload namespace may enforce. `baseline` needs Istio CNI (the
 * `istio-init` container's NET_ADMIN/NET_RAW are refused) and admits the stock nginx image, whose
 * master runs as root; `restricted` would refuse it. `privileged` is for meshes without CNI.
 */
export const PodSecurityLevel = {
    /** Pod Security `baseline`. */
    Baseline: "baseline",
    /** Pod Security `privileged` (no restriction). */
    Privileged: "privileged",
} as const;
/** One enforced Pod Security level. */
export type PodSecurityLevel = (typeof PodSecurityLevel)[keyof typeof PodSecurityLevel];
/** The Pod Security levels a workload namespace may enforce. */
export const POD_SECURITY_LEVELS: readonly PodSecurityLevel[] = Object.values(PodSecurityLevel);

/**
 * Namespace labels for Pod Security admission: enforce `level`, and audit against `restricted`
 * (recorded in the API server's audit log; `warn` would print a warning on every apply).
 */
export function podSecurityLabels(level: PodSecurityLevel): Record<string, string> {
    return { "pod-security.kubernetes.io/enforce": level, "pod-security.kubernetes.io/audit": "restricted" };
}

/** The labels shared by every object of the app, including the Kubernetes recommended ones. */
export function commonLabels(app: string): Record<string, string> {
    return {
        "app.kubernetes.io/name": app,
        "app.kubernetes.io/part-of": app,
        "app.kubernetes.io/managed-by": "pulumi",
    };
}

/** The selector of one color's pods: the app label plus the version label the subsets select on. */
export function colorSelector(app: string, color: Color): Record<string, string> {
    return { app, [VERSION_LABEL]: color };
}

// nginx writes its temp files under /var/cache/nginx and its pid file under /run (/var/run links
// there); everything else stays read-only.
const WRITABLE_PATHS = [
    { name: "nginx-cache", mountPath: "/var/cache/nginx" },
    { name: "nginx-run", mountPath: "/run" },
];

/**
 * The container securityContext: as tight as the stock nginx image allows. Its master process runs
 * as root (so no runAsNonRoot), binds port 80 (NET_BIND_SERVICE), chowns its temp directories to
 * the nginx user (CHOWN) and starts workers as that user (SETUID, SETGID). Every other capability
 * is dropped; the entrypoint scripts skip their config edits on a read-only root filesystem.
 */
export function nginxSecurityContext(): k8s.types.input.core.v1.SecurityContext {
    return {
        allowPrivilegeEscalation: false,
        privileged: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ["ALL"], add: ["CHOWN", "SETUID", "SETGID", "NET_BIND_SERVICE"] },
    };
}

/** Inputs to {@link buildDeploymentSpec}. */
export interface DeploymentInputs {
    /** App name: the `app` label and container name. */
    app: string;
    /** Which color this Deployment runs. */
    color: Color;
    /** Image and replicas of that color. */
    spec: ColorSpec;
    /** Container requests and limits. */
    resources: ContainerResources;
    /** How long a terminating pod keeps serving, and how. */
    drain: DrainSettings;
}

/** The pod label that makes the given revision inject a pod (in a namespace without injection labels). */
export function revisionPodLabels(istioRevision: string | undefined): Record<string, string> {
    return istioRevision ? { "istio.io/rev": istioRevision } : {};
}

/**
 * Pod annotations. A native sidecar (an init container that restarts always) is stopped by the
 * kubelet only after the app container has exited, so the proxy keeps carrying requests through
 * the app's preStop drain; a classic sidecar would get SIGTERM at once and drain for 5 s only.
 */
export const POD_ANNOTATIONS: Record<string, string> = { "sidecar.istio.io/nativeSidecar": "true" };

/** Builds one color's Deployment spec. Nothing in it depends on which color is active. */
export function buildDeploymentSpec(inputs: DeploymentInputs): k8s.types.input.apps.v1.DeploymentSpec {
    const selector = colorSelector(inputs.app, inputs.color);
    const probe = (initialDelaySeconds: number, periodSeconds: number) => ({
        httpGet: { path: "/", port: "http" },
        initialDelaySeconds,
        periodSeconds,
        timeoutSeconds: 2,
        failureThreshold: 3,
    });
    const preStop = preStopHook(inputs.drain);
    return {
        replicas: inputs.spec.replicas,
        selector: { matchLabels: selector },
        template: {
            metadata: {
                annotations: { ...POD_ANNOTATIONS },
                labels: {
                    ...commonLabels(inputs.app),
                    "app.kubernetes.io/instance": `${inputs.app}-${inputs.color}`,
                    ...selector,
                    ...revisionPodLabels(inputs.spec.istioRevision),
                },
            },
            spec: {
                // nginx never talks to the Kubernetes API; the Istio sidecar brings its own token.
                automountServiceAccountToken: false,
                // Longer than the preStop drain, so the kubelet never cuts the drain short.
                terminationGracePeriodSeconds: terminationGracePeriod(inputs.drain),
                securityContext: { seccompProfile: { type: "RuntimeDefault" } },
                containers: [{
                    name: inputs.app,
                    image: inputs.spec.image,
                    ports: [{ name: "http", containerPort: CONTAINER_PORT, protocol: "TCP" }],
                    readinessProbe: probe(2, 5),
                    livenessProbe: probe(10, 10),
                    // Keeps serving while proxies learn that this pod is going away.
                    ...(preStop ? { lifecycle: { preStop } } : {}),
                    resources: {
                        requests: { ...inputs.resources.requests },
                        limits: { ...inputs.resources.limits },
                    },
                    securityContext: nginxSecurityContext(),
                    volumeMounts: WRITABLE_PATHS.map((p) => ({ ...p })),
                }],
                volumes: WRITABLE_PATHS.map((p) => ({ name: p.name, emptyDir: {} })),
            },
        },
    };
}

/**
 * Builds the Service in front of both colors. It selects the app only, never a color: the
 * DestinationRule subsets pick the color, so a switch never touches the Service.
 */
export function buildServiceSpec(app: string, port: number): k8s.types.input.core.v1.ServiceSpec {
    return {
        type: "ClusterIP",
        selector: { app },
        // The name and appProtocol make Istio apply HTTP routing to this port.
        ports: [{ name: "http", port, targetPort: CONTAINER_PORT, protocol: "TCP", appProtocol: "http" }],
    };
}

/**
 * A PodDisruptionBudget for one color: voluntary disruptions (node drains, upgrades) take at most
 * one pod at a time. maxUnavailable rather than minAvailable, so a color of one pod, or a parked
 * color of zero, never blocks a node drain.
 */
export function buildPodDisruptionBudgetSpec(app: string, color: Color): k8s.types.input.policy.v1.PodDisruptionBudgetSpec {
    return { maxUnavailable: 1, selector: { matchLabels: colorSelector(app, color) } };
}
