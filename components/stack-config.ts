// Reads and validates the stack configuration (the settings declared in Pulumi.yaml). Pure: it
// takes a getter, so tests and the offline renderer can feed it without the Pulumi engine. The
// program and the offline tools both go through readStackConfigFromAll, so they cannot disagree.
import * as fs from "node:fs";
import { parse as parseYaml } from "yaml";
import { BlueGreenEnvironmentArgs, checkBlueGreenEnvironmentArgs, checkBlueGreenEnvironmentWarnings } from "./blue-green-environment";
import { BLUE_GREEN_DEFAULTS, WorkloadArgs } from "./blue-green-service";
import { DEFAULT_CERT_MANAGER_VERSION } from "./cert-manager";
import { DEFAULT_RESILIENCE, parsePairs, parseTargetedRoute, parseTrafficWeights } from "./delivery";
import { ExternalService, parseExternalEndpoint } from "./external-services";
import { GKE_DEFAULTS, GkeClusterArgs, ImageRepository, ReleaseChannel, parseImageRepository } from "./gke-cluster";
import { ISTIO_DEFAULTS, IstioPlatform, MtlsMode } from "./istio-mesh";
import { IstioControlPlane, parseControlPlane } from "./mesh-revisions";
import { expandHome, isInlineKubeconfig } from "./kube-client";
import { DEFAULT_PREVIEW_ACCESS, PreviewAccessMode, PreviewJwt } from "./preview-access";
import type { HealthGateArgs } from "./health-gate";
import { HEALTH_GATE_DEFAULTS, HealthGateMode, parseHealthCheck } from "./health-verdict";
import type { DrainAction } from "./rollout";
import type { PodSecurityLevel } from "./workload";
import { COLORS, Color, LoadBalancerPolicy, TargetedRoute } from "./routing";
import { ConfigProblem, LABEL_KEY, LABEL_VALUE, closestName, describe, throwIfProblems } from "./validation";

/**
 * Returns the raw string of a stack setting (as `pulumi.Config.get` does), or undefined when unset.
 * Keys of this project come bare (`activeColor`); other namespaces come qualified (`gcp:project`).
 */
export type ConfigGetter = (key: string) => string | undefined;

/** The validated stack configuration: the environment to build. */
export interface StackSettings {
    /**
     * Arguments of the top-level component, as a library caller would write them: defaults are
     * applied once, by the components. Resolved arguments fed back in as arguments lose every
     * field whose resolved shape differs (drainDelaySeconds/drainAction become `drain`).
     */
    environment: BlueGreenEnvironmentArgs;
    /**
     * Values accepted but not known to exist, named by stack config key: checked against dated
     * lists (Istio releases, GCP regions, machine series) that cannot know what came out later.
     * The program logs them as warnings.
     */
    warnings: ConfigProblem[];
}

/** Component argument paths whose stack config key differs, longest first where they nest. */
const CONFIG_KEY_FOR_ARGUMENT: [string, string][] = [
    ...COLORS.flatMap((color): [string, string][] => [
        [`workload.colors.${color}.image`, `${color}Image`],
        [`workload.colors.${color}.replicas`, `${color}Replicas`],
        [`workload.colors.${color}.istioRevision`, `${color}IstioRevision`],
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
    ["workload.previewAccess.jwt.audiences", "previewJwtAudiences"],
    ["workload.previewAccess.jwt.claims", "previewJwtClaims"],
    ["workload.healthGate.mode", "healthGate"],
    ["workload.healthGate.queryUrl", "healthGateQueryUrl"],
    ["workload.healthGate.window", "healthGateWindow"],
    ["workload.healthGate.minRequests", "healthGateMinRequests"],
    ["workload.healthGate.minSuccessRate", "healthGateMinSuccessRate"],
    ["workload.healthGate.maxP99Ms", "healthGateMaxP99Ms"],
    ["workload.healthGate.requireData", "healthGateRequireData"],
    ["workload.healthGate.checks", "healthGateChecks"],
    ["workload.healthGate.queryTimeoutSeconds", "healthGateQueryTimeoutSeconds"],
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
    ["mesh.controlPlanes", "istioControlPlanes"],
    ["mesh.validatorRevision", "istioValidatorRevision"],
    ["mesh.gatewayRevision", "ingressIstioRevision"],
    ["mesh.chartValues", "istioHelmValues"],
    ["mesh", ""],
    ["existingGatewaySelector", "ingressGatewaySelector"],
    ["installMesh", "installIstio"],
];

/** The stack config key of a component argument path (`cluster.nodePool.minNodes` -> `minNodes`). */
export function configKeyFor(argumentPath: string): string {
    for (const [path, key] of CONFIG_KEY_FOR_ARGUMENT) {
        if (argumentPath === path || argumentPath.startsWith(`${path}[`)) return key + argumentPath.slice(path.length);
        if (argumentPath.startsWith(`${path}.`) && key === "") return argumentPath.slice(path.length + 1);
    }
    return argumentPath;
}

/** Every setting of this project, as declared in Pulumi.yaml (a test keeps the two equal). */
export const STACK_SETTINGS = [
    "activeColor", "namespace", "createNamespace", "istioRevision", "appName", "hosts", "blueImage", "greenImage", "blueReplicas", "greenReplicas",
    "headerName", "loadBalancer", "externalServices", "kubeconfig", "clusterName", "clusterLocation", "releaseChannel",
    "deletionProtection", "machineType", "minNodes", "maxNodes", "diskSizeGb", "nodesCidr", "podsCidr", "servicesCidr",
    "privateNodes", "masterCidr", "masterAuthorizedNetworks", "installIstio", "istioVersion", "mtlsMode", "ingressReplicas",
    "ingressGatewaySelector", "ingressGatewayNamespace", "collectMetrics", "trafficWeights", "targetedRoutes", "mirrorToIdle", "meshRouting",
    "idleReplicas", "tlsCredentialName", "httpsRedirect", "certIssuer", "installCertManager", "certManagerVersion",
    "routeTimeout", "retryAttempts", "retryPerTryTimeout", "drainDelaySeconds", "drainAction", "rolloutTimeoutSeconds",
    "clusterIdentifier", "imageRepositories", "istioChartRepository", "istioPlatform", "podSecurity", "previewAccess", "previewSourceCidrs",
    "previewJwtIssuer", "previewJwksUri", "previewJwtAudiences", "previewJwtClaims", "retryOn",
    "istioControlPlanes", "istioValidatorRevision", "ingressIstioRevision", "blueIstioRevision", "greenIstioRevision",
    "healthGate", "healthGateQueryUrl", "healthGateWindow", "healthGateMinRequests", "healthGateMinSuccessRate", "healthGateMaxP99Ms",
    "healthGateRequireData", "healthGateChecks", "healthGateQueryTimeoutSeconds",
    "istioHelmValues",
] as const;

/** Settings of other namespaces (provider settings) that this program reads too. */
export const PROVIDER_SETTINGS_READ = ["gcp:project", "gcp:region"] as const;

/**
 * Settings that can hold a credential (an inline kubeconfig carries tokens or client keys): the
 * program passes them on as Pulumi secrets, and messages never quote them.
 */
export const SECRET_SETTINGS: ReadonlySet<string> = new Set(["kubeconfig"]);

/** The health gate's settings besides its mode: without effect when the gate is off. */
const HEALTH_GATE_DETAIL_SETTINGS = ["healthGateQueryUrl", "healthGateWindow", "healthGateMinRequests", "healthGateMinSuccessRate", "healthGateMaxP99Ms",
    "healthGateRequireData", "healthGateChecks", "healthGateQueryTimeoutSeconds"];

/** Settings that describe the GKE cluster this stack builds; without effect when kubeconfig is set. */
const CLUSTER_SETTINGS = ["clusterName", "clusterLocation", "releaseChannel", "deletionProtection", "machineType", "minNodes", "maxNodes",
    "diskSizeGb", "nodesCidr", "podsCidr", "servicesCidr", "privateNodes", "masterCidr", "masterAuthorizedNetworks", "imageRepositories"];

/** Declared defaults (as Pulumi.yaml writes them) of the settings that depend on another one. */
export const DEPENDENT_SETTING_DEFAULTS: Record<string, string> = {
    clusterName: "bluegreen", clusterLocation: "", releaseChannel: GKE_DEFAULTS.releaseChannel, deletionProtection: "auto",
    machineType: GKE_DEFAULTS.nodePool.machineType, minNodes: String(GKE_DEFAULTS.nodePool.minNodes),
    maxNodes: String(GKE_DEFAULTS.nodePool.maxNodes), diskSizeGb: String(GKE_DEFAULTS.nodePool.diskSizeGb),
    nodesCidr: GKE_DEFAULTS.networkRanges.nodes, podsCidr: GKE_DEFAULTS.networkRanges.pods, servicesCidr: GKE_DEFAULTS.networkRanges.services,
    privateNodes: "false", masterCidr: GKE_DEFAULTS.masterCidr, masterAuthorizedNetworks: "[]",
    httpsRedirect: "false", certIssuer: "", certManagerVersion: DEFAULT_CERT_MANAGER_VERSION,
    ingressGatewaySelector: "", ingressGatewayNamespace: "",
    istioVersion: ISTIO_DEFAULTS.version, mtlsMode: ISTIO_DEFAULTS.mtlsMode, ingressReplicas: String(ISTIO_DEFAULTS.ingressReplicas),
    imageRepositories: "[]", clusterIdentifier: "", istioChartRepository: ISTIO_DEFAULTS.repository, istioPlatform: "",
    previewSourceCidrs: "[]", previewJwtIssuer: "", previewJwksUri: "", previewJwtAudiences: "[]", previewJwtClaims: "[]",
    retryPerTryTimeout: DEFAULT_RESILIENCE.retries.perTryTimeout, retryOn: DEFAULT_RESILIENCE.retries.retryOn,
    istioControlPlanes: "[]", istioValidatorRevision: "", ingressIstioRevision: "",
    healthGateQueryUrl: "", healthGateWindow: HEALTH_GATE_DEFAULTS.window, healthGateMinRequests: String(HEALTH_GATE_DEFAULTS.minRequests),
    healthGateMinSuccessRate: String(HEALTH_GATE_DEFAULTS.minSuccessRate), healthGateMaxP99Ms: String(HEALTH_GATE_DEFAULTS.maxP99Ms),
    healthGateRequireData: String(HEALTH_GATE_DEFAULTS.requireData), healthGateChecks: "[]", healthGateQueryTimeoutSeconds: String(HEALTH_GATE_DEFAULTS.queryTimeoutSeconds),
    istioHelmValues: "[]",
};

/**
 * One rule for settings that only mean something when another setting allows it: such a setting
 * away from its default while its prerequisite is off is refused, naming the prerequisite.
 */
export const PREREQUISITES: { settings: string[]; needs: string; fix: string; met: (get: ConfigGetter) => boolean }[] = [
    { settings: CLUSTER_SETTINGS, needs: "kubeconfig unset (with kubeconfig set no GKE cluster is built)", fix: "unset kubeconfig", met: (get) => !get("kubeconfig") },
    { settings: ["httpsRedirect", "certIssuer"], needs: "tlsCredentialName set", fix: "set tlsCredentialName too", met: (get) => !!get("tlsCredentialName") },
    { settings: ["masterCidr"], needs: "privateNodes true", fix: "set privateNodes to true", met: (get) => get("privateNodes") === "true" },
    { settings: ["certManagerVersion"], needs: "installCertManager true", fix: "set installCertManager to true", met: (get) => get("installCertManager") === "true" },
    { settings: ["ingressGatewaySelector", "ingressGatewayNamespace"], needs: "installIstio false (an existing mesh)", fix: "set installIstio to false", met: (get) => get("installIstio") === "false" },
    { settings: ["istioVersion", "mtlsMode", "ingressReplicas", "istioChartRepository", "istioPlatform", "istioControlPlanes", "istioValidatorRevision", "ingressIstioRevision", "istioHelmValues"], needs: "installIstio true (the default)", fix: "set installIstio to true", met: (get) => get("installIstio") !== "false" },
    { settings: ["clusterIdentifier"], needs: "kubeconfig set (a cluster built here gets its own identifier)", fix: "set kubeconfig too", met: (get) => !!get("kubeconfig") },
    // Istio refuses a retry policy with 0 attempts and anything else ("http retry policy configured when attempts are set to 0").
    { settings: ["retryPerTryTimeout", "retryOn"], needs: "retryAttempts above 0 (0 turns retries off)", fix: "set retryAttempts to 1 or more", met: (get) => !/^\s*[-+]?0+\s*$/.test(get("retryAttempts") ?? "") },
    { settings: ["previewSourceCidrs", "previewJwtIssuer", "previewJwksUri", "previewJwtAudiences", "previewJwtClaims"], needs: "previewAccess restricted (the default)", fix: "set previewAccess to restricted", met: (get) => get("previewAccess") !== "open" },
    { settings: ["previewJwksUri", "previewJwtAudiences", "previewJwtClaims"], needs: "previewJwtIssuer set", fix: "set previewJwtIssuer (the tokens' iss) too", met: (get) => !!get("previewJwtIssuer") },
    { settings: HEALTH_GATE_DETAIL_SETTINGS, needs: "healthGate enforce or warn", fix: "set healthGate to enforce or warn", met: (get) => get("healthGate") !== HealthGateMode.Off },
];

/** A raw setting normalised for comparing with its default (lists as JSON, surrounding spaces ignored). */
function normalised(raw: string): string {
    try {
        return JSON.stringify(JSON.parse(raw));
    } catch {
        return raw.trim();
    }
}

/** Problems for settings set away from their default while their prerequisite is off. */
export function checkPrerequisites(get: ConfigGetter): ConfigProblem[] {
    const problems: ConfigProblem[] = [];
    for (const rule of PREREQUISITES) {
        if (rule.met(get)) continue;
        for (const key of rule.settings) {
            const raw = get(key);
            const fallback = DEPENDENT_SETTING_DEFAULTS[key];
            if (raw === undefined || raw === "" || normalised(raw) === normalised(fallback) || problems.some((p) => p.setting === key)) continue;
            problems.push({
                setting: key,
                message: `is ${describe(raw)} but only applies with ${rule.needs}; allowed values: ` +
                    `${fallback === "" ? "unset" : `${fallback} (the default)`} (pulumi config rm ${key}), or ${rule.fix}`,
            });
        }
    }
    return problems;
}

export { isInlineKubeconfig };

/** What a path holds, as the kubeconfig check needs it: a file's text, nothing, or a directory. */
export type FileContents = { text: string } | { missing: true } | { directory: true };

/** Reads a file from the local file system for the kubeconfig check. */
export function readLocalFile(file: string): FileContents {
    try {
        if (fs.statSync(file).isDirectory()) return { directory: true };
        return { text: fs.readFileSync(file, "utf8") };
    } catch {
        return { missing: true };
    }
}

/** Why a kubeconfig's text is not one (undefined when it parses as a YAML mapping, as every kubeconfig is). */
function kubeconfigTextProblem(text: string): string | undefined {
    let document: unknown;
    try {
        document = parseYaml(text);
    } catch (e) {
        // The parser's message quotes the text; only where it failed is shown.
        const at = (e as { linePos?: { line: number; col: number }[] }).linePos?.[0];
        return `is not valid YAML${at ? ` (line ${at.line}, column ${at.col})` : ""}`;
    }
    return document !== null && typeof document === "object" && !Array.isArray(document) ? undefined : "is YAML but not a mapping of kubeconfig fields (apiVersion, clusters, users, contexts)";
}

/**
 * Checks a kubeconfig, given as its contents or the path of a file: the path names a file (not a
 * directory), and the contents parse as a YAML mapping. Never quotes the value: it may hold credentials.
 */
export function checkKubeconfig(value: string, readFile: (file: string) => FileContents): ConfigProblem[] {
    const allowed = "allowed values: the path of an existing kubeconfig file, or the file's contents";
    const problem = (what: string) => [{ setting: "kubeconfig", message: `${what} (the value is not shown: it may hold credentials); ${allowed}` }];
    if (isInlineKubeconfig(value)) {
        const wrong = kubeconfigTextProblem(value);
        return wrong ? problem(`is given inline but ${wrong}`) : [];
    }
    const contents = readFile(expandHome(value));
    if ("missing" in contents) return problem("names a file that does not exist");
    if ("directory" in contents) return problem("names a directory, not a kubeconfig file");
    const wrong = kubeconfigTextProblem(contents.text);
    return wrong ? problem(`names a file that ${wrong}`) : [];
}

/**
 * Refuses config keys nobody reads: in this project's namespace every undeclared key (with the
 * closest declared one as a suggestion); in other namespaces (provider settings such as gcp:zone,
 * kubernetes:context or pulumi:tags, which stay allowed) only keys named like one of ours.
 * `keys` are fully qualified, as pulumi.runtime.allConfig() returns them.
 */
export function checkConfigKeys(keys: Iterable<string>, project: string): ConfigProblem[] {
    const declared: readonly string[] = STACK_SETTINGS;
    const problems: ConfigProblem[] = [];
    for (const key of keys) {
        const at = key.indexOf(":");
        const namespace = at < 0 ? project : key.slice(0, at);
        const name = key.slice(at + 1);
        if (namespace === project) {
            if (declared.includes(name)) continue;
            const suggestion = closestName(name, declared, Math.max(2, Math.floor(name.length / 3)));
            problems.push({
                setting: name,
                message: `is not a setting of this project${suggestion ? `; did you mean \`${suggestion}\`?` : ""} ` +
                    `(allowed values: the settings declared in Pulumi.yaml, listed in the README's Configuration table)`,
            });
        } else if (!(PROVIDER_SETTINGS_READ as readonly string[]).includes(key)) {
            const suggestion = closestName(name, declared);
            if (suggestion === undefined) continue;
            problems.push({
                setting: key,
                message: `is not read by anything in this program; did you mean this project's setting \`${suggestion}\`? ` +
                    `It takes no namespace (allowed: pulumi config set ${suggestion} <value>)`,
            });
        }
    }
    return problems;
}

/** Settings declared with `default: ""` in Pulumi.yaml, where the empty string means unset. */
export const OPTIONAL_KEYS = new Set(["kubeconfig", "clusterIdentifier", "istioRevision", "istioValidatorRevision", "ingressIstioRevision", "blueIstioRevision",
    "greenIstioRevision", "clusterLocation", "ingressGatewaySelector", "ingressGatewayNamespace", "trafficWeights", "idleReplicas", "tlsCredentialName", "certIssuer",
    "istioPlatform", "previewJwtIssuer", "previewJwksUri", "healthGateQueryUrl"]);

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

    /** A decimal number from min to max (`0.99`, `1`). */
    number(key: string, min: number, max: number, example: string): number | undefined {
        const raw = this.get(key);
        if (raw === undefined) return undefined;
        const value = /^\s*\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : NaN;
        if (!(value >= min && value <= max)) {
            this.problems.push({ setting: key, message: `got ${describe(raw)}; allowed values: a number from ${min} to ${max}, e.g. ${example}` });
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

    /** `auto` (undefined: the component's default), `true` or `false`. */
    autoBoolean(key: string, auto: string): boolean | undefined {
        const raw = this.get(key) ?? "auto";
        if (raw === "auto") return undefined;
        if (raw === "true" || raw === "false") return raw === "true";
        this.problems.push({ setting: key, message: `got ${describe(raw)}; allowed values: auto (${auto}), true, false` });
        return undefined;
    }

    /** A Kubernetes label selector in `key=value,key=value` form. */
    labels(key: string): Record<string, string> | undefined {
        const raw = this.optional(key);
        if (raw === undefined) return undefined;
        const { pairs, problems } = parsePairs(key, raw);
        this.problems.push(...problems);
        if (problems.length > 0) return undefined;
        const valid = pairs !== undefined && pairs.every(([k, v]) => LABEL_KEY.test(k) && LABEL_VALUE.test(v));
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

/**
 * Parses `externalServices` entries, merging the ports of entries for the same host. Two hosts
 * that map to one ServiceEntry name, or one port given two protocols, are refused rather than
 * silently dropped.
 */
function readExternalServices(reader: SettingsReader): ExternalService[] | undefined {
    const entries = reader.stringList("externalServices", "tcp://db.example.com:5432");
    if (entries === undefined) return undefined;
    const byName = new Map<string, { service: ExternalService; index: number }>();
    entries.forEach((entry, i) => {
        const setting = `externalServices[${i}]`;
        const { service, problems } = parseExternalEndpoint(setting, entry);
        reader.problems.push(...problems);
        if (!service) return;
        const seen = byName.get(service.name);
        if (!seen) {
            byName.set(service.name, { service, index: i });
        } else if (seen.service.hosts[0] !== service.hosts[0]) {
            reader.problems.push({
                setting,
                message: `has host ${describe(service.hosts[0])}, which maps to the ServiceEntry name ${describe(service.name)} as externalServices[${seen.index}] ` +
                    `(${describe(seen.service.hosts[0])}) does; allowed values: hosts whose names still differ once dots become dashes (and cut to 63 characters)`,
            });
        } else {
            for (const port of service.ports) {
                const same = seen.service.ports.find((q) => q.number === port.number);
                if (!same) seen.service.ports.push(port);
                else if (same.protocol !== port.protocol) {
                    reader.problems.push({ setting, message: `gives port ${port.number} of ${describe(service.hosts[0])} the protocol ${port.protocol}, which an earlier entry gives ${same.protocol}; allowed values: one protocol per port` });
                }
            }
        }
    });
    return [...byName.values()].map((v) => v.service);
}

/** The token requirements of previewAccess: issuer, audiences, and claims written `name=value`. */
function readPreviewJwt(reader: SettingsReader, issuer: string, jwksUri: string | undefined): PreviewJwt {
    const audiences = reader.stringList("previewJwtAudiences", "https://preview.example.com") ?? [];
    const claims = (reader.stringList("previewJwtClaims", "email=alice@example.com") ?? []).flatMap((entry, i) => {
        const at = entry.indexOf("=");
        if (at > 0 && at < entry.length - 1) return [{ name: entry.slice(0, at).trim(), values: [entry.slice(at + 1).trim()] }];
        reader.problems.push({ setting: `previewJwtClaims[${i}]`, message: `got ${describe(entry)}; allowed values: <claim>=<value>, e.g. email=alice@example.com or repository=my-org/my-repo` });
        return [];
    });
    return { issuer, audiences, ...(claims.length > 0 ? { claims } : {}), ...(jwksUri !== undefined ? { jwksUri } : {}) };
}

/**
 * Parses `istioControlPlanes` entries (`<revision>=<version>`). With any listed, `istioVersion`
 * (which they replace) must stay at its default.
 */
function readControlPlanes(reader: SettingsReader): IstioControlPlane[] {
    const entries = reader.stringList("istioControlPlanes", "1-31-4=1.31.4") ?? [];
    const planes = entries.flatMap((entry, i) => {
        const { plane, problems } = parseControlPlane(`istioControlPlanes[${i}]`, entry);
        reader.problems.push(...problems);
        return plane ? [plane] : [];
    });
    const version = reader.string("istioVersion");
    if (entries.length > 0 && version !== undefined && version !== ISTIO_DEFAULTS.version) {
        reader.problems.push({
            setting: "istioVersion",
            message: `is ${describe(version)} while istioControlPlanes lists the control planes with their versions; allowed values: ` +
                `${ISTIO_DEFAULTS.version} (the default: pulumi config rm istioVersion), each version given in istioControlPlanes`,
        });
    }
    return planes;
}

/** The health gate's settings as set; BlueGreenService applies the defaults (and the environment the query URL of a cluster built here). */
function readHealthGate(reader: SettingsReader): HealthGateArgs {
    const checks = reader.stringList("healthGateChecks", `"upstream 5xx: sum(increase(x{app=\\"{{app}}\\"}[{{window}}])) <= 0"`)?.flatMap((entry, i) => {
        const { check, problems } = parseHealthCheck(`healthGateChecks[${i}]`, entry);
        reader.problems.push(...problems);
        return check ? [check] : [];
    });
    return {
        mode: reader.string("healthGate") as HealthGateMode | undefined,
        queryUrl: reader.optional("healthGateQueryUrl"),
        window: reader.string("healthGateWindow"),
        minRequests: reader.integer("healthGateMinRequests", 0, 1_000_000_000),
        minSuccessRate: reader.number("healthGateMinSuccessRate", 0, 1, "0.99"),
        maxP99Ms: reader.integer("healthGateMaxP99Ms", 1, 3_600_000),
        requireData: reader.boolean("healthGateRequireData"),
        checks,
        queryTimeoutSeconds: reader.integer("healthGateQueryTimeoutSeconds", 1, 120),
    };
}

/** Parses `istioHelmValues` entries (`<chart>.<path>=<value>`) into IstioMeshArgs.chartValues. */
function readHelmValues(reader: SettingsReader): Record<string, string> | undefined {
    const entries = reader.stringList("istioHelmValues", "istiod.pilot.resources.requests.cpu=500m");
    if (entries === undefined || entries.length === 0) return undefined;
    const values: Record<string, string> = {};
    entries.forEach((entry, i) => {
        const at = entry.indexOf("=");
        const key = entry.slice(0, at).trim();
        if (at < 0 || key === "") {
            reader.problems.push({ setting: `istioHelmValues[${i}]`, message: `got ${describe(entry)}; allowed values: <chart>.<path>=<value>, e.g. istiod.pilot.resources.requests.cpu=500m` });
        } else if (key in values) {
            reader.problems.push({ setting: `istioHelmValues[${i}]`, message: `sets ${key} again; allowed values: each <chart>.<path> once` });
        } else {
            values[key] = entry.slice(at + 1);
        }
    });
    return values;
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

/** The workload's arguments as set; BlueGreenService applies the defaults. */
function readWorkload(reader: SettingsReader): WorkloadArgs {
    const colors = {} as Record<Color, { image: string; replicas: number; istioRevision?: string }>;
    for (const color of COLORS) {
        const defaults = BLUE_GREEN_DEFAULTS.colors[color];
        const pin = reader.optional(`${color}IstioRevision`);
        colors[color] = {
            image: reader.string(`${color}Image`) ?? defaults.image,
            replicas: reader.integer(`${color}Replicas`, 0, 1000) ?? defaults.replicas,
            ...(pin !== undefined ? { istioRevision: pin } : {}),
        };
    }
    const weights = reader.optional("trafficWeights");
    const parsedWeights = weights === undefined ? undefined : parseTrafficWeights("trafficWeights", weights);
    reader.problems.push(...parsedWeights?.problems ?? []);
    const credentialName = reader.optional("tlsCredentialName");
    const issuer = reader.optional("certIssuer");
    const httpsRedirect = reader.boolean("httpsRedirect") ?? false;
    const jwtIssuer = reader.optional("previewJwtIssuer");
    const jwksUri = reader.optional("previewJwksUri");
    const retries = DEFAULT_RESILIENCE.retries;
    return {
        activeColor: (reader.string("activeColor") ?? BLUE_GREEN_DEFAULTS.activeColor) as Color,
        namespace: reader.string("namespace"),
        createNamespace: reader.boolean("createNamespace"),
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
            ...(jwtIssuer !== undefined ? { jwt: readPreviewJwt(reader, jwtIssuer, jwksUri) } : {}),
        },
        healthGate: readHealthGate(reader),
        // The environment puts the secret in its gateway's namespace.
        tls: credentialName === undefined ? undefined : {
            credentialName,
            httpsRedirect,
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
    };
}

/** The cluster's arguments; still built when the project or location is missing, so every other setting is checked too. */
function readCluster(reader: SettingsReader, stack: string): GkeClusterArgs {
    const project = reader.string("gcp:project");
    const location = reader.optional("clusterLocation") ?? reader.string("gcp:region");
    if (project === undefined) {
        reader.problems.push({ setting: "gcp:project", message: "is not set; allowed values: your GCP project ID (pulumi config set gcp:project <id>), or set kubeconfig to use an existing cluster" });
    }
    if (location === undefined) {
        reader.problems.push({ setting: "clusterLocation", message: "is not set and neither is gcp:region; allowed values: a GCP region such as us-central1 or a zone such as us-central1-a" });
    }
    const nodes = GKE_DEFAULTS.nodePool;
    const ranges = GKE_DEFAULTS.networkRanges;
    return {
        project: project ?? "",
        location: location ?? "",
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

/** Where the stack's keys come from and how files are looked up; both optional for library callers. */
export interface ReadOptions {
    /** Every key set for the stack, fully qualified (`<project>:activeColor`, `gcp:zone`): unknown ones are refused. */
    keys?: Iterable<string>;
    /** This project's name, the namespace of `keys` that is ours. */
    project?: string;
    /** What a path holds (a kubeconfig given as a path). Default: the local file system. */
    readFile?: (file: string) => FileContents;
}

/** The parts of BlueGreenEnvironmentArgs that paths in messages may start from. */
const ENVIRONMENT_PARTS = ["cluster", "mesh", "workload", "certManager"];

/** Matches argument paths inside a component's message (`nodePool.maxNodes`, `networkRanges.nodes`). */
const ARGUMENT_PATH_IN_MESSAGE = /\b[a-z][A-Za-z]*(?:\.[a-z][A-Za-z]*)+\b/g;

/**
 * A component's problem as a stack user reads it: the setting and every argument path its message
 * mentions named by stack config key. `locationKey` is where the cluster location came from.
 */
function asStackProblem(problem: ConfigProblem, locationKey: string): ConfigProblem {
    const part = problem.setting.split(/[.[]/)[0];
    const setting = configKeyFor(problem.setting);
    return {
        setting: setting === "clusterLocation" ? locationKey : setting,
        message: problem.message.replace(ARGUMENT_PATH_IN_MESSAGE, (token) => {
            // A path from the environment's top (mesh.controlPlanes in a workload problem) or relative to the problem's part.
            if (ENVIRONMENT_PARTS.includes(token.split(".")[0]) && configKeyFor(token) !== token) return configKeyFor(token);
            const key = configKeyFor(`${part}.${token}`);
            return key === `${part}.${token}` ? token : key;
        }),
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
export function readStackConfig(get: ConfigGetter, stack: string, options: ReadOptions = {}): StackSettings {
    // Settings whose prerequisite is off are refused here, and then read as unset.
    const prerequisiteProblems = checkPrerequisites(get);
    const reader = new SettingsReader((key) => (prerequisiteProblems.some((p) => p.setting === key) ? undefined : get(key)));
    reader.problems.push(...prerequisiteProblems);
    if (options.keys !== undefined) reader.problems.push(...checkConfigKeys(options.keys, options.project ?? ""));
    const installIstio = reader.boolean("installIstio") ?? true;
    const existingGatewayNamespace = reader.optional("ingressGatewayNamespace");
    const workload = readWorkload(reader);
    const kubeconfig = reader.optional("kubeconfig");
    if (kubeconfig !== undefined) reader.problems.push(...checkKubeconfig(kubeconfig, options.readFile ?? readLocalFile));
    const clusterIdentifier = reader.optional("clusterIdentifier");
    const cluster = kubeconfig === undefined ? readCluster(reader, stack) : undefined;
    const platform = reader.optional("istioPlatform");
    const controlPlanes = readControlPlanes(reader);
    const validatorRevision = reader.optional("istioValidatorRevision");
    const gatewayRevision = reader.optional("ingressIstioRevision");
    const chartValues = readHelmValues(reader);
    const mesh = {
        // Several control planes replace the one istiod's version: istioVersion stays at its default.
        ...(controlPlanes.length > 0 ? { controlPlanes } : { version: reader.string("istioVersion") ?? ISTIO_DEFAULTS.version }),
        ...(validatorRevision !== undefined ? { validatorRevision } : {}),
        ...(gatewayRevision !== undefined ? { gatewayRevision } : {}),
        ...(chartValues !== undefined ? { chartValues } : {}),
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
        installMesh: installIstio,
        mesh: installIstio ? mesh : undefined,
        existingGatewaySelector: reader.labels("ingressGatewaySelector"),
        existingGatewayNamespace,
        certManager: installCertManager ? { version: certManagerVersion } : undefined,
        workload,
        collectMetrics: reader.autoBoolean("collectMetrics", "on when this stack builds the GKE cluster"),
    };
    const locationKey = reader.optional("clusterLocation") === undefined && get("gcp:region") !== undefined ? "gcp:region" : "clusterLocation";
    const argumentProblems = checkBlueGreenEnvironmentArgs(environment)
        .map((p) => asStackProblem(p, locationKey))
        // A value that could not be parsed was replaced by its default: report the parse problem only.
        .filter((p) => !reader.hasProblem(p.setting.replace(/\[.*$/, "")));
    throwIfProblems([...reader.problems, ...argumentProblems]);
    return { environment, warnings: checkBlueGreenEnvironmentWarnings(environment).map((p) => asStackProblem(p, locationKey)) };
}

/**
 * Reads the stack configuration from every key set for the stack, as pulumi.runtime.allConfig()
 * returns them (`<project>:activeColor`, `gcp:project`): what the program does, and so what the
 * offline tools do when they run it.
 */
export function readStackConfigFromAll(all: Record<string, string>, project: string, stack: string,
    readFile?: (file: string) => FileContents): StackSettings {
    const get: ConfigGetter = (key) => all[key.includes(":") ? key : `${project}:${key}`];
    return readStackConfig(get, stack, { keys: Object.keys(all), project, readFile });
}
