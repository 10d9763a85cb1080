// A small read-only Kubernetes API client for the revision guard: it lists what refers to an Istio
// revision, with the stack's own kubeconfig, from a resource hook of a real `pulumi up`. Only GETs;
// authentication as kubectl does it for the kubeconfigs this package meets (tokens, client
// certificates, exec plugins such as gke-gcloud-auth-plugin).
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import * as https from "node:https";
import * as os from "node:os";
import * as path from "node:path";
import { ListedMeta, ListedWorkload, RevisionInventory } from "./revision-guard";

/** Reads JSON from the API server: the parsed body, or undefined for 404. */
export interface KubeReader {
    /** GETs `apiPath` (e.g. `/api/v1/namespaces`). */
    get(apiPath: string): Promise<any | undefined>;
}

/** What a kubeconfig's current context resolves to. */
export interface KubeTarget {
    server: string;
    ca?: Buffer;
    insecure: boolean;
    token?: string;
    cert?: Buffer;
    key?: Buffer;
    basic?: { username: string; password: string };
    exec?: { command: string; args: string[]; env: Record<string, string>; provideClusterInfo: boolean };
}

/**
 * Parses a kubeconfig's text (YAML or JSON). YAML is read with js-yaml, which @pulumi/pulumi (this
 * package's peer) depends on, resolved from there: this package ships no YAML parser of its own.
 */
export function parseKubeconfig(text: string): any {
    const trimmed = text.trim();
    if (trimmed.startsWith("{")) return JSON.parse(trimmed);
    const sdk = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const yaml = require(require.resolve("js-yaml", { paths: [sdk] }));
    return yaml.load(text);
}

/** True when a kubeconfig value is the file's contents rather than its path. */
export function isInlineKubeconfig(value: string): boolean {
    return value.includes("\n") || /^\s*\{/.test(value) || /^\s*apiVersion\s*:/.test(value);
}

/** A kubeconfig path with a leading `~/` read as the home directory, as kubectl and the provider read it. */
export function expandHome(file: string): string {
    return file.startsWith("~/") ? path.join(os.homedir(), file.slice(2)) : file;
}

/** The kubeconfig the guard uses: the stack's (contents or a path), else $KUBECONFIG's first file, else ~/.kube/config. */
export function kubeconfigText(kubeconfig: string | undefined): { text: string; dir: string } {
    if (kubeconfig !== undefined && isInlineKubeconfig(kubeconfig)) {
        return { text: kubeconfig, dir: process.cwd() };
    }
    const file = expandHome(kubeconfig || (process.env.KUBECONFIG ?? "").split(path.delimiter).find((f) => f !== "") || "~/.kube/config");
    return { text: fs.readFileSync(file, "utf8"), dir: path.dirname(file) };
}

/** Resolves the current context of a parsed kubeconfig; relative file paths are read from `dir`. */
export function kubeTarget(config: any, dir: string): KubeTarget {
    const named = (list: any[] | undefined, name: string, what: string) => {
        const found = (list ?? []).find((e) => e?.name === name);
        if (!found) throw new Error(`the kubeconfig has no ${what} named ${JSON.stringify(name)}`);
        return found;
    };
    const context = named(config?.contexts, config?.["current-context"], "context").context ?? {};
    const cluster = named(config?.clusters, context.cluster, "cluster").cluster ?? {};
    const user = context.user !== undefined ? named(config?.users, context.user, "user").user ?? {} : {};
    const file = (value: string | undefined) => (value === undefined ? undefined : fs.readFileSync(path.resolve(dir, value)));
    const data = (value: string | undefined) => (value === undefined ? undefined : Buffer.from(value, "base64"));
    if (typeof cluster.server !== "string") throw new Error("the kubeconfig's cluster has no server");
    return {
        server: cluster.server.replace(/\/+$/, ""),
        ca: data(cluster["certificate-authority-data"]) ?? file(cluster["certificate-authority"]),
        insecure: cluster["insecure-skip-tls-verify"] === true,
        token: user.token ?? (user.tokenFile ? fs.readFileSync(path.resolve(dir, user.tokenFile), "utf8").trim() : undefined),
        cert: data(user["client-certificate-data"]) ?? file(user["client-certificate"]),
        key: data(user["client-key-data"]) ?? file(user["client-key"]),
        basic: typeof user.username === "string" ? { username: user.username, password: String(user.password ?? "") } : undefined,
        exec: user.exec ? {
            command: user.exec.command,
            args: user.exec.args ?? [],
            env: Object.fromEntries((user.exec.env ?? []).map((e: { name: string; value: string }) => [e.name, e.value])),
            provideClusterInfo: user.exec.provideClusterInfo === true,
        } : undefined,
    };
}

/** Runs a kubeconfig's exec credential plugin and returns its credential (a token or a client certificate). */
async function execCredential(target: KubeTarget): Promise<{ token?: string; cert?: Buffer; key?: Buffer }> {
    const exec = target.exec!;
    const info = { apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential",
        spec: { interactive: false, ...(exec.provideClusterInfo ? { cluster: { server: target.server, "certificate-authority-data": target.ca?.toString("base64") } } : {}) } };
    const stdout = await new Promise<string>((resolve, reject) => execFile(exec.command, exec.args,
        { env: { ...process.env, ...exec.env, KUBERNETES_EXEC_INFO: JSON.stringify(info) }, timeout: 60_000 },
        (error, out) => (error ? reject(new Error(`the kubeconfig's credential plugin ${exec.command} failed: ${error.message}`)) : resolve(out))));
    const status = JSON.parse(stdout).status ?? {};
    return { token: status.token, cert: status.clientCertificateData ? Buffer.from(status.clientCertificateData) : undefined,
        key: status.clientKeyData ? Buffer.from(status.clientKeyData) : undefined };
}

/** A reader for the cluster a kubeconfig (contents, path, or unset for the ambient one) points at. */
export function kubeReader(kubeconfig: string | undefined): KubeReader {
    const { text, dir } = kubeconfigText(kubeconfig);
    const target = kubeTarget(parseKubeconfig(text), dir);
    let credential: Promise<{ token?: string; cert?: Buffer; key?: Buffer }> | undefined;
    return {
        async get(apiPath: string) {
            credential ??= target.exec ? execCredential(target) : Promise.resolve({ token: target.token, cert: target.cert, key: target.key });
            const { token, cert, key } = await credential;
            const url = new URL(target.server + apiPath);
            const headers: Record<string, string> = { Accept: "application/json" };
            if (token) headers.Authorization = `Bearer ${token}`;
            else if (target.basic) headers.Authorization = `Basic ${Buffer.from(`${target.basic.username}:${target.basic.password}`).toString("base64")}`;
            return new Promise((resolve, reject) => {
                const request = (url.protocol === "http:" ? http : https).request(url, { method: "GET", headers, ca: target.ca, cert, key, rejectUnauthorized: !target.insecure, timeout: 30_000 }, (response) => {
                    const chunks: Buffer[] = [];
                    response.on("data", (c: Buffer) => chunks.push(c));
                    response.on("end", () => {
                        const body = Buffer.concat(chunks).toString("utf8");
                        if (response.statusCode === 404) resolve(undefined);
                        else if (response.statusCode !== 200) reject(new Error(`GET ${apiPath}: HTTP ${response.statusCode} ${body.slice(0, 300)}`));
                        else resolve(JSON.parse(body));
                    });
                });
                request.on("timeout", () => request.destroy(new Error(`GET ${apiPath}: no answer in 30 s`)));
                request.on("error", reject);
                request.end();
            });
        },
    };
}

/** Every item of a list, following `continue` tokens. */
async function listAll(reader: KubeReader, apiPath: string, selector?: string): Promise<any[]> {
    const items: any[] = [];
    let token: string | undefined;
    do {
        const query = new URLSearchParams({ limit: "500", ...(selector ? { labelSelector: selector } : {}), ...(token ? { continue: token } : {}) });
        const page = await reader.get(`${apiPath}?${query}`);
        items.push(...(page?.items ?? []));
        token = page?.metadata?.continue || undefined;
    } while (token);
    return items;
}

const meta = (o: any): ListedMeta => ({
    name: o.metadata?.name, namespace: o.metadata?.namespace, labels: o.metadata?.labels, annotations: o.metadata?.annotations,
    deletionTimestamp: o.metadata?.deletionTimestamp,
});

/**
 * Lists what can refer to a revision: namespaces, pods with a sidecar (label
 * `security.istio.io/tlsMode=istio`, which the injector sets), Deployments, StatefulSets and
 * DaemonSets, revision-tag webhooks, and the Service the default validating webhook calls.
 */
export async function listRevisionInventory(reader: KubeReader): Promise<RevisionInventory> {
    const workloads = async (plural: string, kind: string): Promise<ListedWorkload[]> =>
        (await listAll(reader, `/apis/apps/v1/${plural}`)).map((o) => ({ kind, metadata: meta(o), templateLabels: o.spec?.template?.metadata?.labels ?? {} }));
    const [namespaces, pods, deployments, statefulSets, daemonSets, tags, validator] = await Promise.all([
        listAll(reader, "/api/v1/namespaces"),
        listAll(reader, "/api/v1/pods", "security.istio.io/tlsMode=istio"),
        workloads("deployments", "Deployment"),
        workloads("statefulsets", "StatefulSet"),
        workloads("daemonsets", "DaemonSet"),
        listAll(reader, "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations", "istio.io/tag"),
        reader.get("/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/istiod-default-validator"),
    ]);
    return {
        namespaces: namespaces.map(meta),
        pods: pods.map(meta),
        workloads: [...deployments, ...statefulSets, ...daemonSets],
        tagWebhooks: tags.map(meta),
        defaultValidatorService: validator?.webhooks?.[0]?.clientConfig?.service?.name,
    };
}
