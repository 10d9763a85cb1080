// What a kwok cluster lacks for a real `installIstio: true` install, run as a child process of an
// e2e script (the script itself blocks in `pulumi up`, so nothing in its own event loop would answer):
//   - an admission webhook stub on 127.0.0.1 over HTTPS standing in for istiod's sidecar injector
//     and config validator (no istiod runs on kwok, and both webhooks fail closed). It admits every
//     AdmissionReview and records which URL path (so which revision's webhook) was asked. An
//     injection request gets the metadata Istio's injector adds (pkg/kube/inject: the
//     `istio.io/rev` and `sidecar.istio.io/status` annotations, the `security.istio.io/tlsMode` and
//     canonical-name/revision labels), with the revision taken from the path, so a running pod's
//     `istio.io/rev` annotation says which revision injected it, as on a real cluster. No
//     istio-proxy container is added: kwok runs no containers.
//   - a cloud load balancer: every Service of type LoadBalancer without an address gets one in
//     its status, so Helm's wait for the gateway chart ends.
// Usage: node -r ts-node/register/transpile-only e2e/cluster-fakes.ts <dir>
// Writes <dir>/ca.pem, prints one JSON line {"port": N} when it listens, and appends one JSON line
// per admission request to <dir>/admissions.jsonl. Paths: /inject/<revision>, /validate/<name>.
import { execFile, execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import * as path from "node:path";

/** The address the fake load balancer gives (TEST-NET-1, RFC 5737: never routed). */
export const FAKE_LOAD_BALANCER_IP = "192.0.2.10";

/** A CA and a server certificate for 127.0.0.1 signed by it, made with openssl in `dir`. */
function makeCertificates(dir: string): { key: Buffer; cert: Buffer } {
    const file = (name: string) => path.join(dir, name);
    const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=bluegreen-e2e-webhook-ca",
        "-keyout", file("ca-key.pem"), "-out", file("ca.pem"));
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", file("server-key.pem"), "-out", file("server.csr"));
    fs.writeFileSync(file("server.ext"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    openssl("x509", "-req", "-in", file("server.csr"), "-CA", file("ca.pem"), "-CAkey", file("ca-key.pem"), "-CAcreateserial",
        "-days", "1", "-extfile", file("server.ext"), "-out", file("server.pem"));
    return { key: fs.readFileSync(file("server-key.pem")), cert: fs.readFileSync(file("server.pem")) };
}

/** A JSON-patch path segment (RFC 6901): `~` and `/` escaped. */
const pointer = (key: string) => key.replace(/~/g, "~0").replace(/\//g, "~1");

/**
 * The JSON patch the stub's injector returns for `pod` injected by `revision`: the metadata Istio's
 * injector sets (webhook.go applyMetadata/getInjectionStatus and files/injection-template.yaml).
 */
export function injectionPatch(pod: any, revision: string): object[] {
    const labels = pod?.metadata?.labels ?? {};
    const containers: string[] = (pod?.spec?.containers ?? []).map((c: any) => c.name);
    const status = { initContainers: null, containers: [...containers, "istio-proxy"], volumes: null, imagePullSecrets: null, revision };
    const annotations: Record<string, string> = { "istio.io/rev": revision, "sidecar.istio.io/status": JSON.stringify(status) };
    const addLabels: Record<string, string> = {
        "security.istio.io/tlsMode": labels["security.istio.io/tlsMode"] ?? "istio",
        "service.istio.io/canonical-name": labels["service.istio.io/canonical-name"] ?? labels["app.kubernetes.io/name"] ?? labels.app ?? pod?.metadata?.generateName ?? "",
        "service.istio.io/canonical-revision": labels["service.istio.io/canonical-revision"] ?? labels["app.kubernetes.io/version"] ?? labels.version ?? "latest",
    };
    const ops: object[] = [];
    for (const [field, entries] of [["annotations", annotations], ["labels", addLabels]] as const) {
        if (!pod?.metadata?.[field]) ops.push({ op: "add", path: `/metadata/${field}`, value: {} });
        for (const [k, v] of Object.entries(entries)) ops.push({ op: "add", path: `/metadata/${field}/${pointer(k)}`, value: v });
    }
    return ops;
}

/** Answers one AdmissionReview: allowed, with the injector's patch on /inject/<revision>. */
function review(urlPath: string, body: any): { response: object; record: object } {
    const request = body?.request ?? {};
    const [, webhook, revision = ""] = urlPath.split("?")[0].split("/");
    const response: Record<string, unknown> = { uid: request.uid, allowed: true };
    if (webhook === "inject" && request.kind?.kind === "Pod") {
        response.patchType = "JSONPatch";
        response.patch = Buffer.from(JSON.stringify(injectionPatch(request.object, revision))).toString("base64");
    }
    const object = request.object ?? request.oldObject ?? {};
    return {
        response: { apiVersion: body?.apiVersion ?? "admission.k8s.io/v1", kind: "AdmissionReview", response },
        record: {
            at: Date.now(), path: urlPath, webhook, revision, operation: request.operation, kind: request.kind?.kind,
            namespace: request.namespace ?? object.metadata?.namespace ?? "", name: request.name || object.metadata?.name || "",
            generateName: object.metadata?.generateName ?? "", labels: object.metadata?.labels ?? {},
        },
    };
}

/** Gives every LoadBalancer Service without an address one, as a cloud controller would; repeats every second. */
function fakeLoadBalancers(): void {
    const tick = () => execFile("kubectl", ["get", "services", "-A", "-o", "json"], { maxBuffer: 32 * 2 ** 20 }, (error, stdout) => {
        const services = error ? [] : JSON.parse(stdout).items ?? [];
        const pending = services.filter((s: any) => s.spec?.type === "LoadBalancer" && !(s.status?.loadBalancer?.ingress?.length > 0));
        let left = pending.length;
        if (left === 0) return void setTimeout(tick, 1000);
        for (const s of pending) {
            const status = { status: { loadBalancer: { ingress: [{ ip: FAKE_LOAD_BALANCER_IP, ipMode: "VIP" }] } } };
            execFile("kubectl", ["-n", s.metadata.namespace, "patch", "service", s.metadata.name, "--subresource=status", "--type=merge",
                "-p", JSON.stringify(status)], () => { if (--left === 0) setTimeout(tick, 1000); });
        }
    });
    tick();
}

function main(): void {
    const dir = process.argv[2];
    if (!dir) throw new Error("usage: cluster-fakes.ts <dir>");
    const records = fs.openSync(path.join(dir, "admissions.jsonl"), "a");
    const server = https.createServer(makeCertificates(dir), (req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            let answer;
            try {
                answer = review(req.url ?? "/", JSON.parse(Buffer.concat(chunks).toString("utf8")));
            } catch (e) {
                res.writeHead(400).end(String(e));
                return;
            }
            fs.writeSync(records, JSON.stringify(answer.record) + "\n");
            res.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(answer.response));
        });
    });
    server.listen(0, "127.0.0.1", () => {
        const address = server.address();
        console.log(JSON.stringify({ port: typeof address === "object" && address ? address.port : 0 }));
    });
    fakeLoadBalancers();
    // Ends with its parent: stdin closes when the e2e script exits, however it exits.
    process.stdin.on("end", () => process.exit(0));
    process.stdin.resume();
}

if (require.main === module) main();
