// Reads and validates the stack configuration (the settings declared in Pulumi.yaml). Pure: it
// takes a getter, so tests and the offline renderer can feed it without the Pulumi engine.
import { BlueGreenEnvironmentArgs, checkBlueGreenEnvironmentArgs, gatewayNamespaceOf } from "./blue-green-environment";
import { BLUE_GREEN_DEFAULTS, ResolvedBlueGreenServiceArgs, resolveBlueGreenServiceArgs } from "./blue-green-service";
import { DEFAULT_CERT_MANAGER_VERSION } from "./cert-manager";
import { DEFAULT_RESILIENCE, parseTargetedRoute, parseTrafficWeights } from "./delivery";
import { ExternalService, parseExternalEndpoint } from "./external-services";
import { GKE_DEFAULTS, GkeClusterArgs, ImageRepository, ReleaseChannel, parseImageRepository } from "./gke-cluster";
import { ISTIO_DEFAULTS, IstioPlatform, MtlsMode } from "./istio-mesh";
import { DEFAULT_PREVIEW_ACCESS, PreviewAccessMode } from "./preview-access";
import type { DrainAction } from "./rollout";
import type { PodSecurityLevel } from "./workload";
import { COLORS, Color, LoadBalancerPolicy, TargetedRoute } from "./routing";
import { ConfigProblem, LABEL_KEY, LABEL_VALUE, describe, throwIfProblems } from "./validation";

/**
 * Returns the raw string of a stack setting (as `pulumi.Config.get` does), or undefined when unset.
 * Keys of this project come bare (`activeColor`); other namespaces come qualified (`gcp:project`).
 */
export type ConfigGetter = (key: string) => string | undefined;

/** The validated stack configuration: the environment to build. */
export interface StackSettings {
    /** Arguments of the top-level component. */
    environment: BlueGreenEnvironmentArgs & { workload: ResolvedBlueGreenServiceArgs };
}

/** Component argument paths whose stack config key differs, longest first where they nest. */
const CONFIG_KEY_FOR_ARGUMENT: [string, string][] = [
    ...COLORS.flatMap((color): [string, string][] => [
        [`workload.colors.${color}.image`, `${color}Image`],
        [`workload.colors.${color}.replicas`, `${color}Replicas`],
    ]),
    ["workload.resilience.timeout", "routeTimeout"],
    ["workload.resilience.retries.attempts", "retryAttempts"],
    ["workload.resilience.retries.perTryTimeout", "retryPerTryTimeout"],
    ["workload.resilience.retries.retryOn", "retryOn"],
    ["workload.tls.credentialName", "tlsCredentialName"],
    ["workload.tls.certificate.issuerName", "certIssuer"],
    ["workload.tls.gatewayNamespace", "ingressGatewayNamespace"],
    ["workload.gatewayNamespace", "ingressGatewayNamespace"],
    ["workload.previewAccess.mode", "previewAccess"],
    ["workload.previewAccess.sourceCidrs", "previewSourceCidrs"],
    ["workload.previewAccess.jwt.issuer", "previewJwtIssuer"],
    ["workload.previewAccess.jwt.jwksUri", "previewJwksUri"],
    ["workload", ""],
    ["certManager.version", "certManagerVersion"],
    ["existingGatewayNamespace", "ingressGatewayNamespace"],
    ["cluster.project", "gcp:project"],
    ["cluster.location", "clusterLocation"],
    ["cluster.nodePool.machineType", "machineType"],
    ["cluster.nodePool.minNodes", "minNodes"],
    ["cluster.nodePool.maxNodes", "maxNodes"],
    ["cluster.nodePool.diskSizeGb", "diskSizeGb"],
    ["cluster.networkRanges.nodes", "nodesCidr"],
    ["cluster.networkRanges.pods", "podsCidr"],
    ["cluster.networkRanges.services", "servicesCidr"],
    ["cluster", ""],
    ["mesh.version", "istioVersion"],
    ["mesh.repository", "istioChartRepository"],
    ["mesh.platform", "istioPlatform"],
    ["mesh.revision", "istioRevision"],
    ["mesh", ""],
    ["existingGatewaySelector", "ingressGatewaySelector"],
];

/** The stack config key of a component argument path (`cluster.nodePool.minNodes` -> `minNodes`). */
export function configKeyFor(argumentPath: string): string {
    for (const [path, key] of CONFIG_KEY_FOR_ARGUMENT) {
        if (argumentPath === path || argumentPath.startsWith(`${path}[`)) return key + argumentPath.slice(path.length);
        if (argumentPath.startsWith(`${path}.`) && key === "") return argumentPath.slice(path.length + 1);
    }
    return argumentPath;
}

/** Settings declared with `default: ""` in Pulumi.yaml, where the empty string means unset. */
export const OPTIONAL_KEYS = new Set(["kubeconfig", "clusterIdentifier", "istioRevision", "clusterLocation", "ingressGatewaySelector", "ingressGatewayNamespace",
    "trafficWeights", "idleReplicas", "tlsCredentialName", "certIssuer", "istioPlatform", "previewJwtIssuer", "previewJwksUri"]);

/** Reads settings one by one, remembering parse problems under the config key. */
class SettingsReader {
    readonly problems: ConfigProblem[] = [];
    constructor(private readonly get: ConfigGetter) {}

    string(key: string): string | undefined {
        return this.get(key);
    }

    /**
     * An optional setting: Pulumi treats a declared key without a default as required, so optional
     * ones are declared with `default: ""`, and the empty string means unset.
     */
    optional(key: string): string | undefined {
        const raw = this.get(key);
        return raw === "" ? undefined : raw;
    }

    integer(key: string, min: number, max: number): number | undefined {
        const raw = this.get(key);
        if (raw === undefined || (raw === "" && OPTIONAL_KEYS.has(key))) return undefined;
        const value = /^\s*-?\d+\s*$/.test(raw) ? Number(raw) : NaN;
        if (!Number.isSafeInteger(value) || value < min || value > max) {
            this.problems.push({ setting: key, message: `got ${describe(raw)}; allowed values: a whole number from ${min} to ${max}` });
            return undefined;
        }
        return value;
    }

    boolean(key: string): boolean | undefined {
        const raw = this.get(key);
        if (raw === undefined) return undefined;
        if (raw === "true" || raw === "false") return raw === "true";
        this.problems.push({ setting: key, message: `got ${describe(raw)}; allowed values: true, false` });
        return undefined;
    }

    stringList(key: string, example: string): string[] | undefined {
        const raw = this.get(key);
        if (raw === undefined) return undefined;
        let value: unknown;
        try {
            value = JSON.parse(raw);
        } catch {
            value = raw;
        }
        if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) {
            this.problems.push({
                setting: key,
                message: `got ${describe(raw)}; allowed values: a list of strings, set with e.g. pulumi config set --path '${key}[0]' ${example}`,
            });
            return undefined;
        }
        return value;
    }

    /** `auto` (on for every stack but dev), `true` or `false`. */
    deletionProtection(stack: string): boolean {
        const raw = this.get("deletionProtection") ?? "auto";
        if (raw === "auto") return stack !== "dev";
        if (raw === "true" || raw === "false") return raw === "true";
        this.problems.push({ setting: "deletionProtection", message: `got ${describe(raw)}; allowed values: auto (on for every stack but dev), true, false` });
        return true;
    }

    /** A Kubernetes label selector in `key=value,key=value` form. */
    labels(key: string): Record<string, string> | undefined {
        const raw = this.optional(key);
        if (raw === undefined) return undefined;
        const pairs = raw.split(",").map((p) => p.trim().split("="));
        const valid = pairs.length > 0 && pairs.every((p) => p.length === 2 && LABEL_KEY.test(p[0]) && LABEL_VALUE.test(p[1]));
        if (!valid) {
            this.problems.push({ setting: key, message: `got ${describe(raw)}; allowed values: pod labels as key=value[,key=value], e.g. istio=ingressgateway` });
            return undefined;
        }
        return Object.fromEntries(pairs);
    }

    hasProblem(key: string): boolean {
        return this.problems.some((p) => p.setting === key || p.setting.startsWith(`${key}[`) || p.setting.startsWith(`${key} `));
    }
}

/** Parses `externalServices` entries, merging the ports of entries for the same host. */
function readExternalServices(reader: SettingsReader): ExternalService[] | undefined {
    const entries = reader.stringList("externalServices", "tcp://db.example.com:5432");
    if (entries === undefined) return undefined;
    const byName = new Map<string, ExternalService>();
    entries.forEach((entry, i) => {
        const { service, problems } = parseExternalEndpoint(`externalServices[${i}]`, entry);
        reader.problems.push(...problems);
        if (!service) return;
        const existing = byName.get(service.name);
        if (existing) {
            existing.ports.push(...service.ports.filter((p) => !existing.ports.some((q) => q.number === p.number)));
        } else {
            byName.set(service.name, service);
        }
    });
    return [...byName.values()];
}

/** Parses `targetedRoutes` entries. */
function readTargetedRoutes(reader: SettingsReader): TargetedRoute[] | undefined {
    const entries = reader.stringList("targetedRoutes", "green:header:x-internal-user=true");
    if (entries === undefined) return undefined;
    return entries.flatMap((entry, i) => {
        const { route, problems } = parseTargetedRoute(`targetedRoutes[${i}]`, entry, i);
        reader.problems.push(...problems);
        return route ? [route] : [];
    });
}

function readWorkload(reader: SettingsReader, gatewayNamespace: string): ResolvedBlueGreenServiceArgs {
    const colors = {} as Record<Color, { image: string; replicas: number }>;
    for (const color of COLORS) {
        const defaults = BLUE_GREEN_DEFAULTS.colors[color];
        colors[color] = {
            image: reader.string(`${color}Image`) ?? defaults.image,
            replicas: reader.integer(`${color}Replicas`, 0, 1000) ?? defaults.replicas,
        };
    }
    const weights = reader.optional("trafficWeights");
    const parsedWeights = weights === undefined ? undefined : parseTrafficWeights("trafficWeights", weights);
    reader.problems.push(...parsedWeights?.problems ?? []);
    const credentialName = reader.optional("tlsCredentialName");
    const issuer = reader.optional("certIssuer");
    if (issuer !== undefined && credentialName === undefined) {
        reader.problems.push({ setting: "certIssuer", message: "is set without tlsCredentialName; allowed values: set tlsCredentialName (the secret the Certificate fills) too" });
    }
    const httpsRedirect = reader.boolean("httpsRedirect") ?? false;
    const jwtIssuer = reader.optional("previewJwtIssuer");
    const jwksUri = reader.optional("previewJwksUri");
    if (jwksUri !== undefined && jwtIssuer === undefined) {
        reader.problems.push({ setting: "previewJwksUri", message: "is set without previewJwtIssuer; allowed values: set previewJwtIssuer (the tokens' iss) too" });
    }
    const retries = DEFAULT_RESILIENCE.retries;
    return resolveBlueGreenServiceArgs({
        activeColor: (reader.string("activeColor") ?? BLUE_GREEN_DEFAULTS.activeColor) as Color,
        namespace: reader.string("namespace"),
        istioRevision: reader.optional("istioRevision"),
        podSecurity: reader.string("podSecurity") as PodSecurityLevel | undefined,
        appName: reader.string("appName"),
        hosts: reader.stringList("hosts", "sample.hoge.com"),
        colors,
        headerName: reader.string("headerName"),
        loadBalancer: reader.string("loadBalancer") as LoadBalancerPolicy | undefined,
        externalServices: readExternalServices(reader),
        trafficWeights: parsedWeights?.weights,
        targetedRoutes: readTargetedRoutes(reader),
        mirrorToIdle: reader.integer("mirrorToIdle", 0, 100),
        meshRouting: reader.boolean("meshRouting"),
        idleReplicas: reader.integer("idleReplicas", 0, 1000),
        drainDelaySeconds: reader.integer("drainDelaySeconds", 0, 600),
        drainAction: reader.string("drainAction") as DrainAction | undefined,
        rolloutTimeoutSeconds: reader.integer("rolloutTimeoutSeconds", 10, 7200),
        previewAccess: {
            mode: (reader.string("previewAccess") ?? DEFAULT_PREVIEW_ACCESS.mode) as PreviewAccessMode,
            sourceCidrs: reader.stringList("previewSourceCidrs", "203.0.113.0/24") ?? [],
            ...(jwtIssuer !== undefined ? { jwt: { issuer: jwtIssuer, ...(jwksUri !== undefined ? { jwksUri } : {}) } } : {}),
        },
        tls: credentialName === undefined ? undefined : {
            credentialName,
            httpsRedirect,
            gatewayNamespace,
            certificate: issuer === undefined ? undefined : { issuerName: issuer, issuerKind: "ClusterIssuer" },
        },
        resilience: {
            timeout: reader.string("routeTimeout") ?? DEFAULT_RESILIENCE.timeout,
            retries: {
                ...retries,
                attempts: reader.integer("retryAttempts", 0, 10) ?? retries.attempts,
                perTryTimeout: reader.string("retryPerTryTimeout") ?? retries.perTryTimeout,
                retryOn: reader.string("retryOn") ?? retries.retryOn,
            },
        },
    });
}

function readCluster(reader: SettingsReader, stack: string): GkeClusterArgs | undefined {
    const project = reader.string("gcp:project");
    const location = reader.optional("clusterLocation") ?? reader.string("gcp:region");
    if (project === undefined) {
        reader.problems.push({ setting: "gcp:project", message: "is not set; allowed values: your GCP project ID (pulumi config set gcp:project <id>), or set kubeconfig to use an existing cluster" });
    }
    if (location === undefined) {
        reader.problems.push({ setting: "clusterLocation", message: "is not set and neither is gcp:region; allowed values: a GCP region such as us-central1 or a zone such as us-central1-a" });
    }
    if (project === undefined || location === undefined) return undefined;
    const nodes = GKE_DEFAULTS.nodePool;
    const ranges = GKE_DEFAULTS.networkRanges;
    return {
        project,
        location,
        clusterName: reader.string("clusterName") ?? "bluegreen",
        releaseChannel: (reader.string("releaseChannel") ?? GKE_DEFAULTS.releaseChannel) as ReleaseChannel,
        // "auto": on for every stack but dev, so a shared environment is not destroyed by accident.
        deletionProtection: reader.deletionProtection(stack),
        nodePool: {
            machineType: reader.string("machineType") ?? nodes.machineType,
            minNodes: reader.integer("minNodes", 0, 1000) ?? nodes.minNodes,
            maxNodes: reader.integer("maxNodes", 1, 1000) ?? nodes.maxNodes,
            diskSizeGb: reader.integer("diskSizeGb", 10, 65536) ?? nodes.diskSizeGb,
        },
        networkRanges: {
            nodes: reader.string("nodesCidr") ?? ranges.nodes,
            pods: reader.string("podsCidr") ?? ranges.pods,
            services: reader.string("servicesCidr") ?? ranges.services,
        },
        privateNodes: reader.boolean("privateNodes") ?? false,
        masterCidr: reader.string("masterCidr") ?? GKE_DEFAULTS.masterCidr,
        masterAuthorizedNetworks: reader.stringList("masterAuthorizedNetworks", "203.0.113.0/24") ?? [],
        imageRepositories: readImageRepositories(reader),
    };
}

/** Parses `imageRepositories` entries (`<location>/<repository>` or `<project>/<location>/<repository>`). */
function readImageRepositories(reader: SettingsReader): ImageRepository[] {
    return (reader.stringList("imageRepositories", "us-central1/apps") ?? []).flatMap((entry, i) => {
        const { repository, problems } = parseImageRepository(`imageRepositories[${i}]`, entry);
        reader.problems.push(...problems);
        return repository ? [repository] : [];
    });
}

/**
 * Reads the stack configuration and validates it completely. Throws a ConfigError naming every
 * bad setting by its config key, with the allowed values; the program declares resources only
 * after this returns.
 */
export function readStackConfig(get: ConfigGetter, stack: string): StackSettings {
    const reader = new SettingsReader(get);
    const installIstio = reader.boolean("installIstio") ?? true;
    const existingGatewayNamespace = reader.optional("ingressGatewayNamespace");
    const workload = readWorkload(reader, gatewayNamespaceOf({ mesh: installIstio ? {} : false, existingGatewayNamespace }));
    const kubeconfig = reader.optional("kubeconfig");
    const clusterIdentifier = reader.optional("clusterIdentifier");
    const cluster = kubeconfig === undefined ? readCluster(reader, stack) : undefined;
    const platform = reader.optional("istioPlatform");
    const mesh = {
        version: reader.string("istioVersion") ?? ISTIO_DEFAULTS.version,
        repository: reader.string("istioChartRepository") ?? ISTIO_DEFAULTS.repository,
        // Unset: gke when this stack builds the cluster, none otherwise.
        ...(platform !== undefined ? { platform: platform as IstioPlatform } : {}),
        mtlsMode: (reader.string("mtlsMode") ?? ISTIO_DEFAULTS.mtlsMode) as MtlsMode,
        ingressReplicas: reader.integer("ingressReplicas", 2, 100) ?? ISTIO_DEFAULTS.ingressReplicas,
    };
    const installCertManager = reader.boolean("installCertManager") ?? false;
    const certManagerVersion = reader.string("certManagerVersion") ?? DEFAULT_CERT_MANAGER_VERSION;
    const environment = {
        cluster,
        kubeconfig,
        clusterIdentifier,
        mesh: installIstio ? mesh : (false as const),
        existingGatewaySelector: reader.labels("ingressGatewaySelector"),
        existingGatewayNamespace,
        certManager: installCertManager ? { version: certManagerVersion } : (false as const),
        workload,
    };
    const argumentProblems = checkBlueGreenEnvironmentArgs(environment)
        .map((p) => ({ ...p, setting: configKeyFor(p.setting) }))
        // A value that could not be parsed was replaced by its default: report the parse problem only.
        .filter((p) => !reader.hasProblem(p.setting.replace(/\[.*$/, "")));
    throwIfProblems([...reader.problems, ...argumentProblems]);
    return { environment };
}
