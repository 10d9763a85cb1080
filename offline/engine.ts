// Runs Pulumi programs and components under the SDK's mock engine and records every resource
// registration with the parts the mocks API hides: URN, parent, provider and dependencies.
// The tests, the offline renderer, the switch plan and the benchmark all evaluate through it.
import * as pulumi from "@pulumi/pulumi";
import * as rpc from "@pulumi/pulumi/runtime/rpc";
import * as settings from "@pulumi/pulumi/runtime/settings";
import * as resproto from "@pulumi/pulumi/proto/resource_pb";
import * as structproto from "google-protobuf/google/protobuf/struct_pb";

/** The project name of Pulumi.yaml: config keys are read under it. */
export const PROJECT = "gke-istio-bluegreen";

/** One resource as the program declared it. */
export interface DeclaredResource {
    urn: string;
    type: string;
    name: string;
    custom: boolean;
    parent?: string;
    /** Provider reference, `<provider urn>::<id>`, when one was given or inherited. */
    provider?: string;
    /** URNs this resource explicitly depends on (dependsOn). */
    dependsOn: string[];
    /** Inputs with secrets unwrapped; see secretPaths. */
    inputs: Record<string, any>;
    /** Dotted paths of inputs that were secrets. */
    secretPaths: string[];
    /** The provider's await timeouts (customTimeouts), when set. */
    customTimeouts?: { create?: string; update?: string; delete?: string };
    /** Names of the error hooks bound to the resource (hooks.onError). */
    errorHooks: string[];
    /** Names of the resource hooks bound before a create and before an update (hooks.beforeCreate, hooks.beforeUpdate). */
    resourceHooks: { beforeCreate: string[]; beforeUpdate: string[] };
    /** Input paths whose changes the engine ignores (the ignoreChanges option). */
    ignoreChanges: string[];
    /** Previous identities the engine adopts the resource from (the aliases option): alias specs' types and alias URNs. */
    aliases: { type?: string; name?: string; urn?: string }[];
}

/** The URN of the provider a resource uses (its provider reference is `<urn>::<id>`). */
export function providerUrn(r: Pick<DeclaredResource, "provider">): string | undefined {
    return r.provider?.split("::").slice(0, -1).join("::");
}

/** What a program declared and returned. */
export interface Evaluation {
    resources: DeclaredResource[];
    outputs?: Record<string, any>;
    error?: Error;
}

let recorded: DeclaredResource[] = [];
let installed: Promise<void> | undefined;

function unwrapSecrets(value: any, path: string, secrets: string[]): any {
    if (Array.isArray(value)) return value.map((v, i) => unwrapSecrets(v, `${path}[${i}]`, secrets));
    if (value && typeof value === "object" && !(value instanceof pulumi.Resource)) {
        if (value[rpc.specialSigKey] === rpc.specialSecretSig) {
            secrets.push(path);
            return unwrapSecrets(value.value, path, []);
        }
        const out: Record<string, any> = {};
        for (const [k, v] of Object.entries(value)) out[k] = unwrapSecrets(v, path ? `${path}.${k}` : k, secrets);
        return out;
    }
    return value;
}

/** The cluster endpoint the mocks hand out (a documentation-range address). */
export const MOCK_CLUSTER_ENDPOINT = "203.0.113.1";
/**
 * The ingress address offline: unknown until a real load balancer exists, so the curl commands
 * read `http://$INGRESS_IP/`, the variable the README tells users to export.
 */
export const MOCK_INGRESS_IP = "$INGRESS_IP";

/**
 * Outputs that a real provider computes and the program reads (cluster endpoint and CA, service
 * account email, the ingress Service's load-balancer address); everything else echoes the inputs.
 */
function mockState(args: pulumi.runtime.MockResourceArgs): Record<string, any> {
    const state = { ...args.inputs };
    switch (args.type) {
        case "gcp:container/cluster:Cluster":
            return { ...state, endpoint: MOCK_CLUSTER_ENDPOINT, masterAuth: { clusterCaCertificate: Buffer.from("mock-ca").toString("base64") } };
        case "gcp:serviceaccount/account:Account":
            return { ...state, email: `${args.inputs.accountId}@${args.inputs.project}.iam.gserviceaccount.com` };
        case "kubernetes:helm.sh/v3:Release":
            // The release's status names it once it is installed (the gateway's Service is read by it).
            return { ...state, status: { name: args.inputs.name, namespace: args.inputs.namespace, status: "deployed" } };
        case "kubernetes:core/v1:Service":
            if (!args.id) return state;
            // A read (Service.get) finds only what exists, as on a cluster: the gateway chart's
            // Service, named after its release, in the release's namespace.
            if (!gatewayChartServiceIds().includes(args.id)) {
                throw new Error(`services "${args.id}" not found (Services the gateway charts of this run create: ${gatewayChartServiceIds().join(", ") || "none"})`);
            }
            return { ...state, status: { loadBalancer: { ingress: [{ ip: MOCK_INGRESS_IP }] } } };
        default:
            return state;
    }
}

/**
 * `<namespace>/<name>` of the Services that the Istio gateway charts declared so far in this run
 * create: the chart names its Service after the release (manifests/charts/gateway, `gateway.name`).
 */
function gatewayChartServiceIds(): string[] {
    return recorded.filter((r) => r.type === "kubernetes:helm.sh/v3:Release" && /(^|\/)gateway$/.test(r.inputs.chart ?? ""))
        .map((r) => `${r.inputs.namespace}/${r.inputs.name}`);
}

function customTimeoutsOf(req: any): DeclaredResource["customTimeouts"] {
    const t = req.getCustomtimeouts();
    if (!t) return undefined;
    const timeouts = Object.entries({ create: t.getCreate(), update: t.getUpdate(), delete: t.getDelete() }).filter(([, v]) => v);
    return timeouts.length > 0 ? Object.fromEntries(timeouts) : undefined;
}

/**
 * Installs the mock engine once per process. Call it before importing the program or any
 * component (pulumi/pulumi#12141).
 */
export function useMocks(stack = "dev"): Promise<void> {
    installed ??= (async () => {
        await pulumi.runtime.setMocks({
            newResource: (args) => ({ id: args.custom ? `${args.name}-id` : undefined, state: mockState(args) }),
            call: (args) => args.inputs,
        }, PROJECT, stack, false);
        const monitor = settings.getMonitor() as any;
        // The SDK's mock monitor declares hook support but lacks the RPCs that register hooks;
        // accept them as the engine does (the callbacks themselves run only on a real engine).
        monitor.registerErrorHook ??= (_req: unknown, callback: (err: any, resp: any) => void) => callback(null, {});
        // Resource hooks are remembered, so a test can play the engine calling one (invokeResourceHook).
        monitor.registerResourceHook ??= (req: any, callback: (err: any, resp: any) => void) => {
            registeredHooks.set(req.getName(), { token: req.getCallback().getToken(), onDryRun: req.getOnDryRun() });
            callback(null, {});
        };
        const register = monitor.registerResource.bind(monitor);
        monitor.registerResource = (req: any, callback: (err: any, resp: any) => void) =>
            register(req, (err: any, resp: any) => {
                if (!err) {
                    const secretPaths: string[] = [];
                    recorded.push({
                        urn: resp.getUrn(),
                        type: req.getType(),
                        name: req.getName(),
                        custom: req.getCustom(),
                        parent: req.getParent() || undefined,
                        provider: req.getProvider() || undefined,
                        dependsOn: req.getDependenciesList(),
                        inputs: unwrapSecrets(rpc.deserializeProperties(req.getObject()), "", secretPaths),
                        secretPaths,
                        customTimeouts: customTimeoutsOf(req),
                        errorHooks: req.getHooks()?.getOnErrorList() ?? [],
                        resourceHooks: { beforeCreate: req.getHooks()?.getBeforeCreateList() ?? [], beforeUpdate: req.getHooks()?.getBeforeUpdateList() ?? [] },
                        ignoreChanges: req.getIgnorechangesList(),
                        aliases: aliasesOf(req),
                    });
                }
                callback(err, resp);
            });
    })();
    return installed;
}

/** Resource hooks registered with the mock monitor, by name: the token of the callback the SDK serves for each. */
const registeredHooks = new Map<string, { token: string; onDryRun: boolean }>();

/** Whether a resource hook of this name was registered, and whether it runs in previews. */
export function registeredResourceHook(name: string): { onDryRun: boolean } | undefined {
    const hook = registeredHooks.get(name);
    return hook && { onDryRun: hook.onDryRun };
}

/**
 * Calls a registered resource hook as the engine does: through the SDK's callback server, with the
 * old and new inputs serialized the way the engine sends them. Returns the hook's error message
 * (what fails the step), or undefined when it passed.
 */
export async function invokeResourceHook(name: string, args: { oldInputs?: Record<string, any>; newInputs?: Record<string, any>; urn?: string; type?: string }): Promise<string | undefined> {
    const hook = registeredHooks.get(name);
    if (!hook) throw new Error(`no resource hook named ${name} was registered (registered: ${[...registeredHooks.keys()].join(", ") || "none"})`);
    const callback = (settings.getCallbacks() as any)?._callbacks?.get(hook.token);
    if (typeof callback !== "function") throw new Error(`the SDK's callback server holds no callback for hook ${name}`);
    const request = new resproto.ResourceHookRequest();
    request.setUrn(args.urn ?? "");
    request.setName(name);
    request.setType(args.type ?? "");
    const struct = async (value: Record<string, any>) => structproto.Struct.fromJavaScript(await rpc.serializeProperties(`hook ${name}`, value));
    if (args.newInputs) request.setNewInputs(await struct(args.newInputs));
    if (args.oldInputs) request.setOldInputs(await struct(args.oldInputs));
    const response = await callback(request.serializeBinary());
    return response.getError() || undefined;
}

/** The aliases of a registration: structured alias specs (what the engine gets today) or plain alias URNs. */
function aliasesOf(req: any): DeclaredResource["aliases"] {
    const specs = (req.getAliasesList?.() ?? []).map((alias: any) => {
        if (alias.hasUrn?.() || alias.getUrn?.()) return { urn: alias.getUrn() };
        const spec = alias.getSpec();
        return { ...(spec.getType() ? { type: spec.getType() } : {}), ...(spec.getName() ? { name: spec.getName() } : {}) };
    });
    return [...specs, ...(req.getAliasurnsList?.() ?? []).map((urn: string) => ({ urn }))];
}

/** Sets the stack configuration the way `pulumi config set` would (keys without the project prefix). */
export function setConfig(values: Record<string, string>): void {
    const config: Record<string, string> = {};
    for (const [key, value] of Object.entries(values)) config[key.includes(":") ? key : `${PROJECT}:${key}`] = value;
    pulumi.runtime.setAllConfig(config);
}

/**
 * Runs `program` as the body of a stack with the given config and waits until every registration
 * has finished. Errors thrown by the program are returned, not thrown.
 */
export async function evaluate(program: () => unknown, config: Record<string, string> = {}): Promise<Evaluation> {
    await useMocks();
    setConfig(config);
    recorded = [];
    let outputs: Record<string, any> | undefined;
    let error: Error | undefined;
    // The SDK records a stack trace on every promise it creates; under mocha's unlimited
    // stackTraceLimit that capture made up most of each evaluation (3x on the component tests).
    // Callers read the program's error messages, never its stacks.
    const stackTraceLimit = Error.stackTraceLimit;
    Error.stackTraceLimit = Math.min(stackTraceLimit, STACK_TRACE_DEPTH);
    try {
        // Catch inside the stack's body: an error escaping it would also surface as an unhandled
        // rejection from the stack's own output registration.
        outputs = await pulumi.runtime.runInPulumiStack(async () => {
            try {
                return await program();
            } catch (e) {
                error = e as Error;
                return undefined;
            }
        });
        await (settings as any).waitForRPCs();
    } finally {
        Error.stackTraceLimit = stackTraceLimit;
    }
    const resources = recorded;
    recorded = [];
    return { resources, outputs, error };
}

/** Stack frames kept while a program evaluates: none. */
const STACK_TRACE_DEPTH = 0;

/** Resolves an Output (or plain value) to its value. */
export function valueOf<T>(output: pulumi.Input<T>): Promise<T> {
    return new Promise((resolve) => pulumi.output(output).apply((v) => resolve(v as T)));
}

/** Lookups over the recorded resources, in the style of the awsx tests. */
export class Resources {
    constructor(public readonly all: DeclaredResource[]) {}

    ofType(type: string): DeclaredResource[] {
        return this.all.filter((r) => r.type === type);
    }

    /** Kubernetes custom resources of one kind (Istio objects). */
    ofKind(kind: string): DeclaredResource[] {
        return this.all.filter((r) => r.inputs.kind === kind && r.custom);
    }

    get(type: string, name: string): DeclaredResource {
        const found = this.all.find((r) => r.type === type && r.name === name);
        if (!found) {
            const names = this.ofType(type).map((r) => r.name).join(", ") || "none";
            throw new Error(`no ${type} named ${name} (declared: ${names})`);
        }
        return found;
    }

    /** The one custom resource of a kind; fails when there are none or several. */
    only(kind: string): DeclaredResource {
        const found = this.ofKind(kind);
        if (found.length !== 1) throw new Error(`expected one ${kind}, found ${found.length}`);
        return found[0];
    }

    byUrn(urn: string): DeclaredResource | undefined {
        return this.all.find((r) => r.urn === urn);
    }
}
