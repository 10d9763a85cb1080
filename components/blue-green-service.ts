import * as pulumi from "@pulumi/pulumi";
import * as k8s from "@pulumi/kubernetes";
import {
    DEFAULT_RESILIENCE,
    Resilience,
    TlsArgs,
    WorkloadTlsArgs,
    checkIdleReplicas,
    checkMirror,
    checkResilience,
    checkTargetedRoutes,
    checkTls,
    checkTrafficHasPods,
    checkTrafficWeights,
    effectiveReplicas,
} from "./delivery";
import { ExternalService, buildServiceEntrySpec, checkExternalServices } from "./external-services";
import {
    resolvePreviewAccess,
    PreviewAccess,
    ResolvedPreviewAccess,
    buildGatewayPreviewPolicy,
    buildMeshPreviewPolicy,
    buildRequestAuthenticationSpec,
    checkPreviewAccess,
} from "./preview-access";
import {
    DEFAULT_DRAIN_DELAY_SECONDS,
    DEFAULT_ROLLOUT_TIMEOUT_SECONDS,
    DrainAction,
    DrainActions,
    DrainSettings,
    checkRolloutSettings,
    rolloutHookMessage,
    rolloutOrder,
    rolloutTimeouts,
} from "./rollout";
import {
    COLORS,
    Color,
    LOAD_BALANCER_POLICIES,
    LoadBalancerPolicy,
    TargetedRoute,
    TrafficWeights,
    buildDestinationRuleSpec,
    buildGatewaySpec,
    buildVirtualServiceSpec,
    otherColor,
    VirtualServiceSpec,
    serviceFqdn,
} from "./routing";
import {
    ConfigProblem,
    SYSTEM_NAMESPACES,
    checkDnsLabel,
    checkHeaderName,
    checkHostList,
    checkOwnNamespace,
    hostsOverlap,
    checkInteger,
    checkOneOf,
    checkPinnedImage,
    checkServiceName,
    describe,
    throwIfProblems,
} from "./validation";
import {
    ColorSpec,
    ContainerResources,
    DEFAULT_RESOURCES,
    POD_SECURITY_LEVELS,
    PodSecurityLevel,
    buildDeploymentSpec,
    buildPodDisruptionBudgetSpec,
    buildServiceSpec,
    commonLabels,
    injectionLabels,
    podSecurityLabels,
} from "./workload";
import { componentType, withPreviousType } from "./tokens";
import { colorWorkload } from "./health-queries";
import { HEALTH_GATE_ANNOTATION, HealthGateArgs, healthGateAnnotation, healthGateHooks, resolveHealthGate } from "./health-gate";
import { HealthGatePolicy, checkHealthGatePolicy } from "./health-verdict";
import { catchAllShares, keptServedTemplatePaths, podTemplateHash, servedTemplateAnnotations } from "./traffic-gain";

/** The Istio networking API version this package declares (stable since Istio 1.22). */
export const ISTIO_NETWORKING_API = "networking.istio.io/v1";
/** The Istio security API version (AuthorizationPolicy, RequestAuthentication, PeerAuthentication). */
export const ISTIO_SECURITY_API = "security.istio.io/v1";

/** Defaults of {@link BlueGreenServiceArgs}, shared with the stack config and Pulumi.yaml. */
export const BLUE_GREEN_DEFAULTS = {
    activeColor: "blue" as Color,
    namespace: "sample-ns",
    appName: "nginx",
    hosts: ["sample.hoge.com"],
    headerName: "x-version",
    loadBalancer: "ROUND_ROBIN" as LoadBalancerPolicy,
    servicePort: 40001,
    gatewaySelector: { istio: "ingressgateway" } as Record<string, string>,
    colors: {
        blue: { image: "nginx:1.27.5", replicas: 2 },
        green: { image: "nginx:1.28.0", replicas: 2 },
    } as Record<Color, { image: string; replicas: number }>,
};

/** The annotation naming the server-side apply field manager of a Patch resource (pulumi-kubernetes). */
export const PATCH_FIELD_MANAGER_ANNOTATION = "pulumi.com/patchFieldManager";

/**
 * The field manager labelling a shared namespace: this package's name plus the app, so
 * `kubectl get ns -o yaml --show-managed-fields` tells who set a label, and every app sharing the
 * namespace co-owns the labels it asks for (removing one app leaves the others' labels in place).
 */
export function namespaceFieldManager(app: string): string {
    return `gke-istio-bluegreen-${app}`;
}

/**
 * Namespaces the workload must not take over: Kubernetes' own, Istio's control plane's, and the
 * ingress gateway's when known.
 */
export function reservedNamespaces(gatewayNamespace?: string): { name: string; owner: string }[] {
    return [
        ...SYSTEM_NAMESPACES.map((name) => ({ name, owner: "Kubernetes itself" })),
        { name: "istio-system", owner: "the Istio control plane" },
        ...(gatewayNamespace ? [{ name: gatewayNamespace, owner: "the ingress gateway" }] : []),
    ];
}

// Service names are DNS-1035 labels of at most 63 characters and "-gateway" is the longest suffix
// this component appends.
const MAX_APP_NAME = 63 - "-gateway".length;

/** Image and replica count per color. */
export interface ColorsArgs {
    /** The blue color. Default nginx 1.27.5, 2 replicas. */
    blue?: ColorSpec;
    /** The green color. Default nginx 1.28.0, 2 replicas. */
    green?: ColorSpec;
}

/**
 * The blue-green workload's own settings: BlueGreenEnvironment's `workload` (the environment wires
 * the gateway, its namespace and address), and the base of BlueGreenService's arguments.
 */
export interface WorkloadArgs {
    /** The color that receives all traffic not picked by the header: `blue` or `green`. */
    activeColor: Color;
    /** Namespace of the workload (labelled for sidecar injection and Pod Security). Default `sample-ns`. */
    namespace?: string;
    /**
     * Create and own the namespace (default true). With false the namespace must already exist and
     * may be shared with other apps: this component only sets its injection and Pod Security labels,
     * by server-side apply under its own field manager, and never deletes the namespace.
     */
    createNamespace?: boolean;
    /** Istio revision to inject (`istio.io/rev`); when unset the namespace gets `istio-injection: enabled`. */
    istioRevision?: string;
    /** Pod Security level the namespace enforces (it always audits against `restricted`). Default `baseline`. */
    podSecurity?: PodSecurityLevel;
    /** App name: the `app` label and the name of the Service, VirtualService and DestinationRule. Default `nginx`. */
    appName?: string;
    /** Image and replica count per color. Default nginx 1.27.5 (blue) and 1.28.0 (green), 2 replicas each. */
    colors?: ColorsArgs;
    /** Container requests and limits, the same for both colors. */
    resources?: ContainerResources;
    /** Hosts the Gateway admits and the VirtualService serves. Default `["sample.hoge.com"]`. */
    hosts?: string[];
    /** Header whose exact value (`blue` or `green`) sends a request to that color. Default `x-version`. */
    headerName?: string;
    /** DestinationRule load-balancing algorithm. Default `ROUND_ROBIN`. */
    loadBalancer?: LoadBalancerPolicy;
    /** Port the Service exposes (it forwards to container port 80). Default 40001. */
    servicePort?: number;
    /** External endpoints registered as ServiceEntries in the workload namespace. */
    externalServices?: ExternalService[];
    /** Split of the catch-all route, e.g. `{ blue: 90, green: 10 }` (whole numbers summing to 100). Unset: 100% to activeColor. */
    trafficWeights?: TrafficWeights;
    /** Rules sending chosen requests (header, cookie, in-mesh caller labels) to a chosen color, before the catch-all. */
    targetedRoutes?: TargetedRoute[];
    /** Share (0-100) of catch-all traffic shadowed to the idle color, responses discarded. Default 0. */
    mirrorToIdle?: number;
    /** The VirtualService also governs in-mesh callers (gateway `mesh`, host = the Service FQDN). Default true. */
    meshRouting?: boolean;
    /**
     * Replicas of the idle color, which must serve no requests: refused while a weight or a targeted
     * route sends it some (a mirror's copies count as none). Default: its own replica count (the
     * same as the active color's by default).
     */
    idleReplicas?: number;
    /** HTTPS at the gateway with a secret in the gateway's namespace, optionally issued by cert-manager. */
    tls?: WorkloadTlsArgs;
    /** Route timeouts and retries; DestinationRule outlier detection and connection pool. */
    resilience?: Partial<Resilience>;
    /** Seconds a terminating pod keeps serving (preStop) so proxies stop sending to it first; 0 turns it off. Default 30. */
    drainDelaySeconds?: number;
    /** How the drain waits: `sleep` (the kubelet's sleep action, Kubernetes 1.30+) or `exec` (`/bin/sleep` in the container). Default `sleep`. */
    drainAction?: DrainAction;
    /** Seconds a Deployment's rollout may take before `pulumi up` fails (and the route is left as it was). Default 600. */
    rolloutTimeoutSeconds?: number;
    /**
     * Who may use the color header to reach a color directly. Default `restricted` with nothing
     * allowed: requests carrying it are refused (403) at the gateway. `open` is the seed's
     * behaviour (anyone on the internet can reach the idle color); the policy pack flags it.
     */
    previewAccess?: PreviewAccess;
    /**
     * The health gate: before the VirtualService gives a color more traffic, `pulumi up` checks that
     * color's request count, success rate and p99 latency in Prometheus, and refuses (or warns) when
     * one is out of bounds. Default: enforce, with Managed Prometheus on a cluster built here; no gate
     * on an existing cluster without a query URL. The hook is bound in TypeScript programs.
     */
    healthGate?: HealthGateArgs;
}

/** Arguments of BlueGreenService. */
export interface BlueGreenServiceArgs extends WorkloadArgs {
    /** HTTPS at the gateway with a secret in the gateway's namespace (`gatewayNamespace`), optionally issued by cert-manager. */
    tls?: TlsArgs;
    /** Pod labels of the Istio ingress gateway the Gateway binds to. Default `{ istio: "ingressgateway" }`. */
    gatewaySelector?: Record<string, string>;
    /** Namespace of the ingress gateway pods, where the gateway-level preview policy lives. Default `istio-system` (TLS: `tls.gatewayNamespace`). */
    gatewayNamespace?: string;
    /** Address of the ingress gateway, used in the ready-to-paste curl commands; may come from another resource. Default `$INGRESS_IP`. */
    ingressAddress?: pulumi.Input<string>;
}

/**
 * Options of BlueGreenService: the component options, plus what its children wait for. Resources
 * cannot travel through a multi-language schema, so these are options of the TypeScript class
 * (BlueGreenEnvironment wires them); from other languages, install the mesh first.
 */
export interface BlueGreenServiceOptions extends pulumi.ComponentResourceOptions {
    /** Resources the Deployments and Istio objects must wait for (the installed mesh: CRDs and a ready istiod). */
    istioDependencies?: pulumi.Resource[];
    /** Resources a cert-manager Certificate must wait for (the cert-manager install with its CRDs). */
    certManagerDependencies?: pulumi.Resource[];
    /** Resources objects in the gateway's namespace (Certificate, preview policy) wait for: the namespace, when it is created here. */
    gatewayDependencies?: pulumi.Resource[];
}

/** ready-to-paste curl commands, one per color and one for the default route. */
export interface CurlCommands {
    /** Reaches blue through the header. */
    blue: string;
    /** Reaches green through the header. */
    green: string;
    /** Follows the default route (the active color, or the split). */
    default: string;
}

/** Arguments with every default applied. */
export interface ResolvedBlueGreenServiceArgs {
    activeColor: Color;
    namespace: string;
    createNamespace: boolean;
    istioRevision?: string;
    podSecurity: PodSecurityLevel;
    appName: string;
    colors: Record<Color, ColorSpec>;
    resources: ContainerResources;
    hosts: string[];
    headerName: string;
    loadBalancer: LoadBalancerPolicy;
    servicePort: number;
    gatewaySelector: Record<string, string>;
    externalServices: ExternalService[];
    trafficWeights?: TrafficWeights;
    targetedRoutes: TargetedRoute[];
    mirrorToIdle: number;
    meshRouting: boolean;
    idleReplicas?: number;
    tls?: TlsArgs;
    resilience: Resilience;
    drain: DrainSettings;
    rolloutTimeoutSeconds: number;
    gatewayNamespace: string;
    previewAccess: ResolvedPreviewAccess;
    healthGate: HealthGatePolicy;
}

/** Applies defaults to the arguments. */
export function resolveBlueGreenServiceArgs(args: BlueGreenServiceArgs): ResolvedBlueGreenServiceArgs {
    const d = BLUE_GREEN_DEFAULTS;
    return {
        activeColor: args.activeColor,
        namespace: args.namespace ?? d.namespace,
        createNamespace: args.createNamespace ?? true,
        istioRevision: args.istioRevision,
        podSecurity: args.podSecurity ?? "baseline",
        appName: args.appName ?? d.appName,
        colors: {
            blue: args.colors?.blue ?? d.colors.blue,
            green: args.colors?.green ?? d.colors.green,
        },
        resources: args.resources ?? DEFAULT_RESOURCES,
        hosts: args.hosts ?? d.hosts,
        headerName: args.headerName ?? d.headerName,
        loadBalancer: args.loadBalancer ?? d.loadBalancer,
        servicePort: args.servicePort ?? d.servicePort,
        gatewaySelector: args.gatewaySelector ?? d.gatewaySelector,
        externalServices: args.externalServices ?? [],
        trafficWeights: args.trafficWeights,
        targetedRoutes: args.targetedRoutes ?? [],
        mirrorToIdle: args.mirrorToIdle ?? 0,
        meshRouting: args.meshRouting ?? true,
        idleReplicas: args.idleReplicas,
        tls: args.tls,
        resilience: { ...DEFAULT_RESILIENCE, ...args.resilience },
        drain: { delaySeconds: args.drainDelaySeconds ?? DEFAULT_DRAIN_DELAY_SECONDS, action: args.drainAction ?? DrainActions.Sleep },
        rolloutTimeoutSeconds: args.rolloutTimeoutSeconds ?? DEFAULT_ROLLOUT_TIMEOUT_SECONDS,
        gatewayNamespace: args.gatewayNamespace ?? args.tls?.gatewayNamespace ?? "istio-system",
        previewAccess: resolvePreviewAccess(args.previewAccess),
        healthGate: resolveHealthGate(args.healthGate),
    };
}

/** Replica counts per color after idle sizing. */
export function replicasOf(args: ResolvedBlueGreenServiceArgs): Record<Color, number> {
    return effectiveReplicas(args.activeColor, { blue: args.colors.blue.replicas, green: args.colors.green.replicas }, args.idleReplicas);
}

/**
 * Checks resolved arguments; problems are reported under their argument path
 * (`colors.blue.replicas`, ...). Returns every problem found.
 */
export function checkBlueGreenServiceArgs(args: ResolvedBlueGreenServiceArgs): ConfigProblem[] {
    const problems: ConfigProblem[] = [
        ...checkOneOf("activeColor", args.activeColor, COLORS),
        ...checkDnsLabel("namespace", args.namespace),
        ...(typeof args.createNamespace === "boolean" ? [] : [{ setting: "createNamespace", message: `got ${describe(args.createNamespace)}; allowed values: true, false` }]),
        // A namespace the workload does not create may hold the ingress gateway too: it only labels it.
        ...checkOwnNamespace("namespace", args.namespace, reservedNamespaces(args.createNamespace !== false ? args.tls?.gatewayNamespace : undefined)),
        ...(args.createNamespace !== false && args.namespace === "default" ? [{
            setting: "namespace",
            message: "is \"default\", which every cluster already has; with createNamespace true the workload would create and own it (destroying the stack " +
                "would delete it with everything in it); allowed values: a namespace of its own, or set createNamespace to false to use default without owning it",
        }] : []),
        ...(args.istioRevision !== undefined ? checkDnsLabel("istioRevision", args.istioRevision) : []),
        ...checkOneOf("podSecurity", args.podSecurity, POD_SECURITY_LEVELS),
        ...checkServiceName("appName", args.appName, MAX_APP_NAME),
        ...checkHostList("hosts", args.hosts),
        ...(args.meshRouting && Array.isArray(args.hosts) && args.hosts.some((h) => hostsOverlap(h, serviceFqdn(args.appName, args.namespace)))
            ? [{ setting: "hosts", message: `overlaps ${serviceFqdn(args.appName, args.namespace)}, the Service's own name, which the VirtualService also serves with meshRouting on; allowed values: public host names only (or set meshRouting to false)` }]
            : []),
        ...checkHeaderName("headerName", args.headerName),
        ...checkOneOf("loadBalancer", args.loadBalancer, LOAD_BALANCER_POLICIES),
        ...checkInteger("servicePort", args.servicePort, 1, 65535),
        ...checkExternalServices("externalServices", args.externalServices),
        ...(args.trafficWeights ? checkTrafficWeights("trafficWeights", args.trafficWeights as Record<string, number>) : []),
        ...checkTargetedRoutes("targetedRoutes", args.targetedRoutes),
        ...checkResilience("resilience", args.resilience),
        ...(args.tls ? checkTls("tls", args.tls) : []),
        ...(args.idleReplicas !== undefined ? checkInteger("idleReplicas", args.idleReplicas, 0, 1000) : []),
        ...checkRolloutSettings(args.drain, args.rolloutTimeoutSeconds, { delay: "drainDelaySeconds", action: "drainAction", timeout: "rolloutTimeoutSeconds" }),
        ...checkDnsLabel("gatewayNamespace", args.gatewayNamespace),
        ...checkPreviewAccess("previewAccess", args.previewAccess),
        ...checkHealthGatePolicy("healthGate", args.healthGate),
    ];
    if (args.tls && args.tls.gatewayNamespace !== args.gatewayNamespace) {
        problems.push({ setting: "gatewayNamespace", message: `is ${describe(args.gatewayNamespace)} but tls.gatewayNamespace is ${describe(args.tls.gatewayNamespace)}; allowed values: the same namespace` });
    }
    for (const color of COLORS) {
        // An image from another resource (an Output) is checked when it resolves: see pinnedImage.
        const image = args.colors[color].image;
        if (!pulumi.Output.isInstance(image) && !(image instanceof Promise)) problems.push(...checkPinnedImage(`colors.${color}.image`, image));
        problems.push(...checkInteger(`colors.${color}.replicas`, args.colors[color].replicas, 0, 1000));
    }
    if (COLORS.includes(args.activeColor)) {
        problems.push(...checkMirror("mirrorToIdle", args.mirrorToIdle, args.activeColor, args.trafficWeights));
        // Checked whatever else is wrong, so every problem is reported at once.
        const idle = otherColor(args.activeColor);
        const idleProblems = checkIdleReplicas(args, `colors.${idle}.replicas`);
        problems.push(...idleProblems, ...checkTrafficHasPods({ ...args, replicas: replicasOf(args) },
            (color) => (color === idle && args.idleReplicas !== undefined ? "idleReplicas" : `colors.${color}.replicas`))
            // An idle size refused outright is not reported twice.
            .filter((p) => !idleProblems.some((q) => q.setting === p.setting)));
    }
    if (Object.keys(args.gatewaySelector).length === 0) {
        problems.push({ setting: "gatewaySelector", message: "is empty; allowed values: the ingress gateway pods' labels, e.g. { istio: ingressgateway }" });
    }
    return problems;
}

/**
 * The child resources of a BlueGreenService, for TypeScript programs. Kept out of the class's own fields:
 * Pulumi's schema analyzer turns every field into an output, and these are not outputs.
 */
interface BlueGreenServiceChildren {
    namespace: k8s.core.v1.Namespace | k8s.core.v1.NamespacePatch;
    deployments: Record<Color, k8s.apps.v1.Deployment>;
    disruptionBudgets: Record<Color, k8s.policy.v1.PodDisruptionBudget>;
    service: k8s.core.v1.Service;
    gateway: k8s.apiextensions.CustomResource;
    destinationRule: k8s.apiextensions.CustomResource;
    virtualService: k8s.apiextensions.CustomResource;
    serviceEntries: k8s.apiextensions.CustomResource[];
    certificate?: k8s.apiextensions.CustomResource;
    previewPolicies: k8s.apiextensions.CustomResource[];
}
const blueGreenServiceChildren = new WeakMap<BlueGreenService, BlueGreenServiceChildren>();

/**
 * A blue-green workload behind an Istio ingress gateway: two Deployments (one per color) with a
 * PodDisruptionBudget each, one Service, a Gateway, a DestinationRule with both color subsets and
 * a VirtualService whose catch-all route follows `activeColor`. Changing `activeColor` changes the
 * VirtualService and nothing else, so a switch restarts no pod and a rollback is the same
 * one-field change.
 */
export class BlueGreenService extends pulumi.ComponentResource {
    /** The color receiving ordinary traffic. */
    public readonly activeColor: pulumi.Output<Color>;
    /** The color reachable only through the header (the rollback target). */
    public readonly idleColor: pulumi.Output<Color>;
    /** The workload namespace. */
    public readonly namespaceName: pulumi.Output<string>;
    /** Hosts served through the gateway. */
    public readonly hosts: pulumi.Output<string[]>;
    /** In-cluster address of the Service, `<fqdn>:<port>`. */
    public readonly serviceAddress: pulumi.Output<string>;
    /** Ready-to-paste curl commands reaching each color (and the default route) through the gateway. */
    public readonly curlCommands: pulumi.Output<CurlCommands>;

    constructor(name: string, args: BlueGreenServiceArgs, opts?: BlueGreenServiceOptions) {
        // Validate before registering anything, so bad input never leaves a half-built stack.
        const a = resolveBlueGreenServiceArgs(args);
        throwIfProblems(checkBlueGreenServiceArgs(a));
        const { istioDependencies = [], certManagerDependencies = [], gatewayDependencies = [], ...componentOpts } = opts ?? {};
        super(componentType("BlueGreenService"), name, {}, withPreviousType(componentOpts, "bluegreen:workload:BlueGreenService"));

        const namespace = declareNamespace(this, name, a);
        const scope: DeclarationScope = { owner: this, name, a, labels: commonLabels(a.appName), namespace, istioDependencies, certManagerDependencies, gatewayDependencies };
        const kids = { namespace } as BlueGreenServiceChildren;
        blueGreenServiceChildren.set(this, kids);

        // The path of one `pulumi up`: colors that will receive traffic roll out (and become ready)
        // first, then the route moves, then colors that lose traffic change (scale down, new image).
        const order = rolloutOrder(a);
        const deployColor = colorDeployer(scope, order.beforeRoute);
        const deployments = {} as Record<Color, k8s.apps.v1.Deployment>;
        for (const color of order.beforeRoute) deployments[color] = deployColor(color);
        kids.disruptionBudgets = declareDisruptionBudgets(scope);
        kids.service = declareService(scope);
        kids.certificate = declareCertificate(scope);
        const gatewaySpec = buildGatewaySpec(a.gatewaySelector, a.hosts, a.tls);
        kids.previewPolicies = declarePreviewGuards(scope, gatewaySpec.servers.map((s) => s.port.number));
        kids.gateway = istioObject(scope, "gateway", "Gateway", gatewayName(a.appName), gatewaySpec, kids.certificate ? [kids.certificate] : []);
        kids.destinationRule = istioObject(scope, "destinationrule", "DestinationRule", a.appName,
            buildDestinationRuleSpec(serviceFqdn(a.appName, a.namespace), a.loadBalancer, a.resilience));
        kids.serviceEntries = a.externalServices.map((s) => istioObject(scope, `serviceentry-${s.name}`, "ServiceEntry", s.name, buildServiceEntrySpec(s)));
        // The VirtualService goes last: the subsets it names, the Gateway it binds to, the guards of its
        // header routes and the colors it sends traffic to exist (and are ready) first.
        kids.virtualService = declareRoute(scope, [kids.destinationRule, kids.gateway, kids.service, ...kids.previewPolicies,
            ...order.beforeRoute.map((color) => deployments[color])]);
        for (const color of order.afterRoute) deployments[color] = deployColor(color, kids.virtualService);
        kids.deployments = deployments;

        const host = serviceFqdn(a.appName, a.namespace);
        this.activeColor = pulumi.output(a.activeColor);
        this.idleColor = pulumi.output(otherColor(a.activeColor));
        this.namespaceName = (namespace.metadata as pulumi.Output<{ name?: string }>).apply((m) => m.name ?? a.namespace);
        this.hosts = pulumi.output(a.hosts);
        this.serviceAddress = pulumi.interpolate`${host}:${a.servicePort}`;
        this.curlCommands = pulumi.output(args.ingressAddress ?? "$INGRESS_IP").apply((address) =>
            curlCommands(address, a.hosts[0], a.headerName, a.tls !== undefined));

        this.registerOutputs({
            activeColor: this.activeColor,
            idleColor: this.idleColor,
            namespace: this.namespaceName,
            hosts: this.hosts,
            serviceAddress: this.serviceAddress,
            curlCommands: this.curlCommands,
        });
    }

    /**
     * The workload namespace: created and owned here, or (createNamespace false) the server-side
     * apply patch that labels an existing namespace.
     */
    get namespace(): k8s.core.v1.Namespace | k8s.core.v1.NamespacePatch {
        return blueGreenServiceChildren.get(this)!.namespace;
    }

    /** One Deployment per color. */
    get deployments(): Record<Color, k8s.apps.v1.Deployment> {
        return blueGreenServiceChildren.get(this)!.deployments;
    }

    /** One PodDisruptionBudget per color. */
    get disruptionBudgets(): Record<Color, k8s.policy.v1.PodDisruptionBudget> {
        return blueGreenServiceChildren.get(this)!.disruptionBudgets;
    }

    /** The Service in front of both colors. */
    get service(): k8s.core.v1.Service {
        return blueGreenServiceChildren.get(this)!.service;
    }

    /** The Istio Gateway. */
    get gateway(): k8s.apiextensions.CustomResource {
        return blueGreenServiceChildren.get(this)!.gateway;
    }

    /** The Istio DestinationRule defining the color subsets. */
    get destinationRule(): k8s.apiextensions.CustomResource {
        return blueGreenServiceChildren.get(this)!.destinationRule;
    }

    /** The Istio VirtualService carrying the switch. */
    get virtualService(): k8s.apiextensions.CustomResource {
        return blueGreenServiceChildren.get(this)!.virtualService;
    }

    /** The Istio ServiceEntries for external endpoints. */
    get serviceEntries(): k8s.apiextensions.CustomResource[] {
        return blueGreenServiceChildren.get(this)!.serviceEntries;
    }

    /** The cert-manager Certificate for the gateway's TLS secret, when one is requested. */
    get certificate(): k8s.apiextensions.CustomResource | undefined {
        return blueGreenServiceChildren.get(this)!.certificate;
    }

    /** The AuthorizationPolicies and RequestAuthentications restricting the color header (none when previewAccess is open). */
    get previewPolicies(): k8s.apiextensions.CustomResource[] {
        return blueGreenServiceChildren.get(this)!.previewPolicies;
    }
}


/**
 * What every declaration step of a BlueGreenService needs. The steps are module functions, not
 * methods: Pulumi's schema analyzer reads the class's members, and these are not part of its API.
 */
interface DeclarationScope {
    /** The component, parent of every child. */
    owner: BlueGreenService;
    /** The component's resource name, prefix of every child's resource name. */
    name: string;
    /** The validated arguments. */
    a: ResolvedBlueGreenServiceArgs;
    /** Labels on every object of this app. */
    labels: Record<string, string>;
    /** The workload namespace (or the patch labelling it): everything in it waits for it. */
    namespace: pulumi.Resource;
    /** What Istio objects and injected pods wait for: the CRDs and istiod's webhooks. */
    istioDependencies: pulumi.Resource[];
    /** What a Certificate waits for: cert-manager and its CRDs. */
    certManagerDependencies: pulumi.Resource[];
    /** What objects in the gateway's namespace wait for: the gateway. */
    gatewayDependencies: pulumi.Resource[];
}

/** Metadata of an object of this app in the workload namespace. */
function objectMeta(scope: DeclarationScope, objectName: string) {
    return { name: objectName, namespace: scope.a.namespace, labels: scope.labels };
}

/** Options of a child that needs the namespace and the mesh (Istio objects, injected pods), plus `extra`. */
function afterMesh(scope: DeclarationScope, extra: pulumi.Resource[] = []): pulumi.CustomResourceOptions {
    return { parent: scope.owner, dependsOn: [scope.namespace, ...scope.istioDependencies, ...extra] };
}

/** The name of the app's Istio Gateway. */
function gatewayName(app: string): string {
    return `${app}-gateway`;
}

/**
 * The workload namespace with the injection and Pod Security labels: created and owned here, or,
 * in a shared namespace, only those labels applied under a field manager of this app's own (never
 * forced), so apps asking for the same values share them and a conflicting value set by someone
 * else fails the update instead of being overwritten.
 */
function declareNamespace(owner: BlueGreenService, name: string, a: ResolvedBlueGreenServiceArgs): k8s.core.v1.Namespace | k8s.core.v1.NamespacePatch {
    const namespaceLabels = { ...injectionLabels(a.istioRevision), ...podSecurityLabels(a.podSecurity) };
    return a.createNamespace
        ? new k8s.core.v1.Namespace(`${name}-namespace`, { metadata: { name: a.namespace, labels: { ...commonLabels(a.appName), ...namespaceLabels } } }, { parent: owner })
        : new k8s.core.v1.NamespacePatch(`${name}-namespace-labels`, {
            metadata: { name: a.namespace, labels: namespaceLabels, annotations: { [PATCH_FIELD_MANAGER_ANNOTATION]: namespaceFieldManager(a.appName) } },
        }, { parent: owner });
}

/**
 * A function declaring one color's Deployment after the given resources. Pods wait for the mesh,
 * since they get their sidecar only if istiod's injection webhook is up when they are created.
 * The provider awaits each rollout (new ReplicaSet ready) within the rollout timeout.
 */
function colorDeployer(scope: DeclarationScope, beforeRoute: readonly Color[]) {
    const { a, name } = scope;
    // One hook for both colors (its name is stable across switches); what it says depends on the
    // step that failed and where the color stands in this update's order. Bound only where the
    // monitor can register hooks (see monitorRegistersErrorHooks).
    const rolloutFailed = monitorRegistersErrorHooks() ? new pulumi.ErrorHook(`${name}-rollout-failed`, (failure) => {
        pulumi.log.error(rolloutHookMessage(failure, { resourceName: name, namespace: a.namespace, app: a.appName, beforeRoute: [...beforeRoute] }));
        return false; // never retry: a rollout that timed out needs a person
    }) : undefined;
    return (color: Color, ...after: pulumi.Resource[]) => new k8s.apps.v1.Deployment(`${name}-${color}`, {
        metadata: { ...objectMeta(scope, colorWorkload(a.appName, color)), labels: { ...scope.labels, app: a.appName, version: color } },
        spec: colorDeploymentSpec(a, color),
    }, {
        ...afterMesh(scope, after),
        customTimeouts: rolloutTimeouts(a.rolloutTimeoutSeconds),
        hooks: rolloutFailed ? { onError: [rolloutFailed] } : undefined,
    });
}

/** The Deployment spec of one color. */
function colorDeploymentSpec(a: ResolvedBlueGreenServiceArgs, color: Color): k8s.types.input.apps.v1.DeploymentSpec {
    return buildDeploymentSpec({
        app: a.appName, color, resources: a.resources, drain: a.drain,
        spec: { image: pinnedImage(`colors.${color}.image`, a.colors[color].image), replicas: replicasOf(a)[color] },
    });
}

/** One PodDisruptionBudget per color. */
function declareDisruptionBudgets(scope: DeclarationScope): Record<Color, k8s.policy.v1.PodDisruptionBudget> {
    const budgets = {} as Record<Color, k8s.policy.v1.PodDisruptionBudget>;
    for (const color of COLORS) {
        budgets[color] = new k8s.policy.v1.PodDisruptionBudget(`${scope.name}-${color}-pdb`, {
            metadata: objectMeta(scope, colorWorkload(scope.a.appName, color)),
            spec: buildPodDisruptionBudgetSpec(scope.a.appName, color),
        }, { parent: scope.owner, dependsOn: [scope.namespace] });
    }
    return budgets;
}

/** The Service in front of both colors. */
function declareService(scope: DeclarationScope): k8s.core.v1.Service {
    const { a } = scope;
    return new k8s.core.v1.Service(`${scope.name}-service`, {
        metadata: { ...objectMeta(scope, a.appName), labels: { ...scope.labels, app: a.appName } },
        spec: buildServiceSpec(a.appName, a.servicePort),
    }, { parent: scope.owner, dependsOn: [scope.namespace] });
}

/** The cert-manager Certificate of the gateway's TLS secret, when one is requested. */
function declareCertificate(scope: DeclarationScope): k8s.apiextensions.CustomResource | undefined {
    const { a } = scope;
    if (!a.tls?.certificate) return undefined;
    // The gateway reads credentialName from its own namespace, so the Certificate lives there.
    return new k8s.apiextensions.CustomResource(`${scope.name}-certificate`, {
        apiVersion: "cert-manager.io/v1",
        kind: "Certificate",
        metadata: { name: a.tls.credentialName, namespace: a.tls.gatewayNamespace, labels: scope.labels },
        spec: {
            secretName: a.tls.credentialName,
            dnsNames: [...a.hosts],
            issuerRef: { name: a.tls.certificate.issuerName, kind: a.tls.certificate.issuerKind ?? "ClusterIssuer", group: "cert-manager.io" },
        },
    }, { parent: scope.owner, dependsOn: [...scope.certManagerDependencies, ...scope.gatewayDependencies] });
}

/** An Istio networking object of this app in the workload namespace, after the mesh and `extra`. */
function istioObject(scope: DeclarationScope, suffix: string, kind: string, objectName: string, spec: object, extra: pulumi.Resource[] = []) {
    return new k8s.apiextensions.CustomResource(`${scope.name}-${suffix}`, {
        apiVersion: ISTIO_NETWORKING_API,
        kind,
        metadata: objectMeta(scope, objectName),
        spec,
    }, afterMesh(scope, extra));
}

/**
 * Who may use the color header (none when previewAccess is open): refused (403) at the gateway
 * unless allowed; with in-mesh routing, also at the workload for callers inside the mesh. The
 * policies name the header, so their object and resource names carry it: a header change creates
 * the new guards as new objects before the route moves to the new header (the route waits for
 * them) and deletes the old ones at the end of the same update, so neither header's routes are
 * ever unguarded.
 */
function declarePreviewGuards(scope: DeclarationScope, gatewayPorts: number[]): k8s.apiextensions.CustomResource[] {
    const { a, name } = scope;
    if (a.previewAccess.mode !== "restricted") return [];
    const app = a.appName;
    const security = (resourceName: string, kind: string, metadata: { name: string; namespace: string }, spec: object, dependsOn: pulumi.Resource[]) =>
        new k8s.apiextensions.CustomResource(resourceName, { apiVersion: ISTIO_SECURITY_API, kind, metadata: { ...metadata, labels: scope.labels }, spec },
            { parent: scope.owner, dependsOn: [scope.namespace, ...scope.istioDependencies, ...dependsOn] });
    const names = previewGuardNames(name, a.namespace, app, a.headerName);
    const jwt = a.previewAccess.jwt;
    const guards: k8s.apiextensions.CustomResource[] = [];
    if (jwt) {
        guards.push(security(names.gatewayAuthentication.resource, "RequestAuthentication",
            { name: names.gatewayAuthentication.object, namespace: a.gatewayNamespace }, buildRequestAuthenticationSpec(a.gatewaySelector, jwt), scope.gatewayDependencies));
    }
    guards.push(security(names.gatewayPolicy.resource, "AuthorizationPolicy", { name: names.gatewayPolicy.object, namespace: a.gatewayNamespace },
        buildGatewayPreviewPolicy({ selector: a.gatewaySelector, hosts: a.hosts, serverPorts: gatewayPorts }, a.headerName, a.previewAccess), scope.gatewayDependencies));
    if (a.meshRouting) {
        if (jwt) {
            guards.push(security(names.meshAuthentication.resource, "RequestAuthentication",
                { name: names.meshAuthentication.object, namespace: a.namespace }, buildRequestAuthenticationSpec({ app }, jwt), []));
        }
        guards.push(security(names.meshPolicy.resource, "AuthorizationPolicy", { name: names.meshPolicy.object, namespace: a.namespace },
            buildMeshPreviewPolicy(app, a.gatewayNamespace, a.headerName, a.previewAccess), []));
    }
    return guards;
}

/** The VirtualService carrying the switch, after everything it routes to, with the health gate bound to it. */
function declareRoute(scope: DeclarationScope, after: pulumi.Resource[]): k8s.apiextensions.CustomResource {
    const { a } = scope;
    const host = serviceFqdn(a.appName, a.namespace);
    const spec = buildVirtualServiceSpec({
        // In-mesh callers address the Service by name: bind to the mesh as well, for that host.
        hosts: a.meshRouting ? [...a.hosts, host] : a.hosts,
        gateways: a.meshRouting ? [`${a.namespace}/${gatewayName(a.appName)}`, "mesh"] : [`${a.namespace}/${gatewayName(a.appName)}`],
        serviceHost: host,
        servicePort: a.servicePort,
        headerName: a.headerName,
        activeColor: a.activeColor,
        trafficWeights: a.trafficWeights,
        targetedRoutes: a.targetedRoutes,
        mirrorToIdle: a.mirrorToIdle,
        timeout: a.resilience.timeout,
        retries: a.resilience.retries,
    });
    const gate = healthGateRecord(a, spec);
    return new k8s.apiextensions.CustomResource(`${scope.name}-virtualservice`, {
        apiVersion: ISTIO_NETWORKING_API,
        kind: "VirtualService",
        metadata: { ...objectMeta(scope, a.appName), annotations: gate.annotations },
        spec,
    }, { ...afterMesh(scope, after), ignoreChanges: gate.ignoreChanges, hooks: healthGateHooks(scope.name, a.healthGate) });
}

/**
 * What the VirtualService carries for the health gate: the gate's settings (the hook reads them
 * from the new inputs, so what gated a change is what the object says), and the rollback record:
 * the pod template hash of each color that serves, kept by the engine (ignoreChanges) while the
 * color is idle, so it still names the pods that served until the last switch.
 */
function healthGateRecord(a: ResolvedBlueGreenServiceArgs, spec: VirtualServiceSpec) {
    const shares = catchAllShares(spec);
    // Per value, so an image known only later leaves the rest of the record readable in a preview.
    const hashes = Object.fromEntries(COLORS.map((c) => [c, pulumi.output(colorDeploymentSpec(a, c).template).apply(podTemplateHash)])) as Record<Color, pulumi.Output<string>>;
    const access = a.previewAccess;
    const testers = access.mode === "open" ? ["anyone"]
        : [...(access.sourceCidrs.length > 0 ? [`from ${access.sourceCidrs.join(", ")}`] : []), ...(access.jwt ? [`with a token from ${access.jwt.issuer}`] : [])];
    const record = healthGateAnnotation({
        app: a.appName, namespace: a.namespace, policy: a.healthGate, ...(testers.length > 0 ? { headerTesters: testers.join(" or ") } : {}),
    });
    return {
        annotations: { [HEALTH_GATE_ANNOTATION]: record, ...servedTemplateAnnotations(shares, hashes) },
        ignoreChanges: keptServedTemplatePaths(shares),
    };
}

/**
 * Resource and object names of the preview guards. The AuthorizationPolicies name the header in
 * their rules, so both their names carry it (a header change makes new objects, never an in-place
 * rewrite that would leave the old header's routes unguarded); the RequestAuthentications do not
 * depend on the header and keep theirs.
 */
export function previewGuardNames(name: string, namespace: string, app: string, headerName: string) {
    return {
        gatewayAuthentication: { resource: `${name}-preview-jwt`, object: `${namespace}-${app}-preview` },
        gatewayPolicy: { resource: `${name}-preview-access-${headerName}`, object: `${namespace}-${app}-preview-${headerName}` },
        meshAuthentication: { resource: `${name}-mesh-preview-jwt`, object: `${app}-preview` },
        meshPolicy: { resource: `${name}-mesh-preview-access-${headerName}`, object: `${app}-preview-${headerName}` },
    };
}

/**
 * Whether the resource monitor this program talks to can register error hooks. The engine's always
 * can (its client has every RPC); the SDK's mock monitor (`pulumi.runtime.setMocks`, 3.248) lacks the
 * RPC, so constructing a hook there rejects and ends the program, while the hook could never run.
 */
function monitorRegistersErrorHooks(): boolean {
    return typeof (pulumi.runtime.getMonitor() as { registerErrorHook?: unknown } | undefined)?.registerErrorHook === "function";
}

/**
 * The image of a color as the Deployment gets it. A known image was checked before anything was
 * declared; one that comes from another resource is checked when it resolves, with the same
 * message, and a bad one fails the update (the Deployment is never sent).
 */
export function pinnedImage(setting: string, image: pulumi.Input<string>): pulumi.Input<string> {
    if (!pulumi.Output.isInstance(image) && !(image instanceof Promise)) return image;
    return pulumi.output(image).apply((value) => {
        throwIfProblems(checkPinnedImage(setting, value));
        return value;
    });
}

/**
 * curl commands that reach each color through the ingress gateway, and the default route. With
 * TLS they use HTTPS and pin the host name to the gateway address, so SNI and the certificate match.
 */
export function curlCommands(address: string, host: string, headerName: string, https = false): CurlCommands {
    const base = https ? `curl -sS --resolve '${host}:443:${address}'` : `curl -sS -H 'Host: ${host}'`;
    const url = https ? `https://${host}/` : `http://${address}/`;
    return {
        blue: `${base} -H '${headerName}: blue' ${url}`,
        green: `${base} -H '${headerName}: green' ${url}`,
        default: `${base} ${url}`,
    };
}
