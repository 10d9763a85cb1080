// Every key declared in Pulumi.yaml must reach the objects through the stack path: the program as
// `pulumi up` runs it, fed the stack configuration. A key that is read and validated but dropped on
// the way (drainDelaySeconds once was) renders exactly the defaults' objects, and fails here.
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { loadProgram } from "../offline/program";
import { PROJECT_ROOT, loadStackConfig, qualify } from "../offline/stack-files";
import { DeclaredResource, Evaluation, PROJECT, evaluate, useMocks } from "./harness";

/** Base configurations (overrides on the dev stack) for keys that only act behind a prerequisite. */
const CLUSTER_SETTINGS_AT_DEFAULTS = { clusterName: "bluegreen", deletionProtection: "auto" };
const INLINE_KUBECONFIG = "apiVersion: v1\nkind: Config\n";
const EXISTING_CLUSTER = { ...CLUSTER_SETTINGS_AT_DEFAULTS, kubeconfig: INLINE_KUBECONFIG };
const EXISTING_MESH = { installIstio: "false" };
const TLS = { tlsCredentialName: "sample-tls" };
const PRIVATE_NODES = { privateNodes: "true" };
const CERT_MANAGER = { installCertManager: "true" };
const JWT = { previewJwtIssuer: "https://issuer.example.com", previewJwtAudiences: '["bluegreen-preview"]' };

/** A key set to `value` on top of `base` (default: the dev stack as it is). */
interface Effect { value: string; base: Record<string, string> }
/** A key that changes no declared object, and why. */
interface Exemption { exempt: string }

const set = (value: string, base: Record<string, string> = {}): Effect => ({ value, base });

/**
 * One row per key of Pulumi.yaml: a valid value other than its default (and than the base's), and
 * the base it needs; or an exemption with its reason. A new key needs one line here.
 */
const ROWS: Record<string, Effect | Exemption> = {
    activeColor: set("green"),
    namespace: set("shop"),
    createNamespace: set("false"),
    istioRevision: set("canary"),
    appName: set("web"),
    hosts: set('["shop.example.com"]'),
    blueImage: set("nginx:1.27.4"),
    greenImage: set("nginx:1.29.0"),
    blueReplicas: set("3"),
    greenReplicas: set("3"),
    headerName: set("x-color"),
    loadBalancer: set("LEAST_REQUEST"),
    externalServices: set('["tcp://cache.example.com:6379"]'),
    kubeconfig: set(INLINE_KUBECONFIG, CLUSTER_SETTINGS_AT_DEFAULTS),
    clusterIdentifier: set("prod-eu", EXISTING_CLUSTER),
    clusterName: set("shop"),
    clusterLocation: set("europe-west1"),
    releaseChannel: set("STABLE"),
    deletionProtection: set("true"),
    machineType: set("e2-standard-8"),
    minNodes: set("2"),
    maxNodes: set("5"),
    diskSizeGb: set("100"),
    nodesCidr: set("10.30.0.0/20"),
    podsCidr: set("10.40.0.0/14"),
    servicesCidr: set("10.50.0.0/20"),
    privateNodes: set("true"),
    masterCidr: set("172.16.1.0/28", PRIVATE_NODES),
    masterAuthorizedNetworks: set('["203.0.113.0/24"]'),
    imageRepositories: set('["us-central1/apps"]'),
    installIstio: set("false"),
    istioChartRepository: set("oci://registry.example.com/istio"),
    istioPlatform: set("k3s", EXISTING_CLUSTER),
    podSecurity: set("privileged"),
    istioVersion: set("1.30.2"),
    mtlsMode: set("PERMISSIVE"),
    ingressReplicas: set("3"),
    ingressGatewaySelector: set("app=edge", EXISTING_MESH),
    ingressGatewayNamespace: set("edge", EXISTING_MESH),
    trafficWeights: set("blue=90,green=10"),
    targetedRoutes: set('["green:header:x-internal-user=true"]'),
    mirrorToIdle: set("10"),
    meshRouting: set("false"),
    idleReplicas: set("1"),
    drainDelaySeconds: set("45"),
    drainAction: set("exec"),
    rolloutTimeoutSeconds: set("900"),
    previewAccess: set("open"),
    previewSourceCidrs: set('["203.0.113.0/24"]'),
    previewJwtIssuer: set("https://other-issuer.example.com", JWT),
    previewJwtAudiences: set('["other-audience"]', JWT),
    previewJwtClaims: set('["email=tester@example.com"]', JWT),
    previewJwksUri: set("https://issuer.example.com/jwks", JWT),
    tlsCredentialName: set("sample-tls"),
    httpsRedirect: set("true", TLS),
    certIssuer: set("letsencrypt", TLS),
    installCertManager: set("true"),
    certManagerVersion: set("v1.20.0", CERT_MANAGER),
    routeTimeout: set("30s"),
    retryAttempts: set("3"),
    retryPerTryTimeout: set("2s"),
    retryOn: set("connect-failure,refused-stream,reset-before-request,gateway-error"),
    healthGate: set("warn"),
    healthGateQueryUrl: set("http://prometheus.monitoring.svc:9090/api/v1/query"),
    healthGateWindow: set("10m"),
    healthGateMinRequests: set("100"),
    healthGateMinSuccessRate: set("0.995"),
    healthGateMaxP99Ms: set("500"),
    healthGateRequireData: set("true"),
    healthGateChecks: set('["upstream 503s: sum(increase(istio_requests_total{destination_workload=\\"{{workload}}\\",response_code=\\"503\\"}[{{window}}])) <= 0"]'),
    healthGateQueryTimeoutSeconds: set("30"),
};

/** The keys Pulumi.yaml declares, with their defaults as the CLI passes them (strings, lists as JSON). */
function declaredDefaults(): Record<string, string | undefined> {
    const config = parse(fs.readFileSync(path.join(PROJECT_ROOT, "Pulumi.yaml"), "utf8")).config ?? {};
    return Object.fromEntries(Object.entries<any>(config).map(([key, decl]) =>
        [key, decl.default === undefined ? undefined : typeof decl.default === "string" ? decl.default : JSON.stringify(decl.default)]));
}

/** What the engine compares between two runs: everything a resource declares but its dependencies (they only order the steps). */
function declared(evaluation: Evaluation): Map<string, string> {
    return new Map(evaluation.resources.map((r: DeclaredResource) => [`${r.type}::${r.name}`, JSON.stringify({ ...r, dependsOn: undefined })]));
}

/** Resources added, removed or changed from `before` to `after`. */
function changedResources(before: Map<string, string>, after: Map<string, string>): string[] {
    const keys = new Set([...before.keys(), ...after.keys()]);
    return [...keys].filter((k) => before.get(k) !== after.get(k));
}

describe("every stack setting reaches the objects (index.ts with the stack config)", () => {
    let program: () => unknown;
    const baseRenders = new Map<string, Promise<Map<string, string>>>();
    const defaults = declaredDefaults();

    before(async () => {
        await useMocks();
        program = await loadProgram();
    });

    /** Runs the program on the dev stack with `config` on top. */
    const render = (config: Record<string, string>): Promise<Evaluation> => evaluate(program, loadStackConfig("dev", config));
    /** The objects of a base configuration, rendered once per base and shared by its rows. */
    const baseObjects = (base: Record<string, string>): Promise<Map<string, string>> => {
        const id = JSON.stringify(base);
        if (!baseRenders.has(id)) {
            baseRenders.set(id, render(base).then((ev) => {
                assert.equal(ev.error, undefined, `the base ${id} is valid`);
                return declared(ev);
            }));
        }
        return baseRenders.get(id)!;
    };

    it("has a row or an exemption for exactly the keys Pulumi.yaml declares", () => {
        assert.deepEqual(Object.keys(ROWS).sort(), Object.keys(defaults).sort(),
            "add a row to ROWS for each new key of Pulumi.yaml (a value that changes the objects, or an exemption with its reason)");
    });

    for (const [key, row] of Object.entries(ROWS)) {
        if ("exempt" in row) continue;
        it(`${key}=${JSON.stringify(row.value)} changes the declared objects`, async () => {
            const base = await baseObjects(row.base);
            const baseValue = loadStackConfig("dev", row.base)[qualify(key, PROJECT)];
            assert.notEqual(row.value, defaults[key], `${key}: the row's value is the declared default`);
            assert.notEqual(row.value, baseValue, `${key}: the row's value is the base's own`);
            const ev = await render({ ...row.base, [key]: row.value });
            assert.equal(ev.error, undefined, `${key}=${JSON.stringify(row.value)} is a valid setting`);
            assert.notDeepEqual(changedResources(base, declared(ev)), [], `${key}=${JSON.stringify(row.value)} renders the same objects as without it`);
        });
    }
});
