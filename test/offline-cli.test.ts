import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseAllDocuments } from "yaml";
import { routeRequest } from "../components/routing";

const root = path.join(__dirname, "..");

/** Runs an offline command as a separate process, as `npm start` / `npm run plan` do. */
function run(command: "render" | "plan", ...args: string[]) {
    const result = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", path.join(root, "offline", `${command}.ts`), ...args], {
        cwd: root, encoding: "utf8", timeout: 120_000,
    });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe("offline CLI (spawned)", function () {
    this.timeout(180_000);
    let out: string;
    beforeEach(() => { out = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-out-")); });
    afterEach(() => fs.rmSync(out, { recursive: true, force: true }));

    const manifests = (stack = "dev") => parseAllDocuments(fs.readFileSync(path.join(out, stack, "manifests.yaml"), "utf8")).map((d) => d.toJS());

    for (const color of ["blue", "green"]) {
        it(`renders the dev stack with activeColor=${color}: summary, ordered manifests, masked resources`, () => {
            const { code, stdout, stderr } = run("render", "--out", out, "--config", `activeColor=${color}`);
            assert.equal(code, 0, stderr);
            assert.match(stdout, new RegExp(`Active color: ${color} +Idle color: ${color === "blue" ? "green" : "blue"}`));
            assert.match(stdout, new RegExp(`everything else +-> +${color} 100%`));
            assert.match(stdout, /header x-version = "green" +-> +green 100%/);
            assert.match(stdout, /1 +gcp:container\/cluster:Cluster/);
            assert.match(stdout, /Schema: 17 objects valid against the Kubernetes schemas \(kubernetes-models\), Istio 1\.31\.4 CRDs and Managed Prometheus's PodMonitoring CRD \(prometheus-engine v0\.17\.2\)/);

            const objects = manifests();
            assert.equal(objects.length, 17);
            for (const o of objects) {
                assert.ok(o.apiVersion && o.kind && o.metadata?.name, "complete object");
                if (o.kind !== "Namespace") assert.ok(o.metadata.namespace, `${o.kind} has a namespace`);
            }
            // Namespaces come first; Istio routing after what it names.
            const kinds = objects.map((o) => o.kind);
            assert.deepEqual(kinds.slice(0, 3), ["Namespace", "Namespace", "Namespace"]);
            assert.ok(kinds.indexOf("VirtualService") > kinds.indexOf("DestinationRule"));
            assert.ok(kinds.indexOf("VirtualService") > kinds.indexOf("Gateway"));
            const vs = objects.find((o) => o.kind === "VirtualService");
            assert.equal(routeRequest(vs.spec, {})?.destinations[0].subset, color);

            const resources = JSON.parse(fs.readFileSync(path.join(out, "dev", "resources.json"), "utf8"));
            assert.ok(resources.some((r: any) => r.type === "gcp:container/cluster:Cluster"));
            assert.ok(resources.some((r: any) => r.type === "kubernetes:helm.sh/v3:Release" && r.inputs.chart === "istiod"));
            const provider = resources.find((r: any) => r.type === "pulumi:providers:kubernetes");
            assert.equal(provider.inputs.kubeconfig, "[secret]");
            assert.doesNotMatch(JSON.stringify(resources), /gke-gcloud-auth-plugin/, "no kubeconfig content leaks");
            for (const r of resources) assert.ok(r.type && r.name && "inputs" in r);
            assert.deepEqual(fs.readdirSync(out), ["dev"], "no staging directory left behind");
            assert.deepEqual(fs.readdirSync(path.join(out, "dev")).sort(), [".bluegreen-render", "manifests.yaml", "resources.json"]);
        });
    }

    it("plans a switch as exactly one update: the VirtualService's default route", () => {
        const { code, stdout, stderr } = run("plan", "--config", "activeColor=green", "--expect-only", "VirtualService");
        assert.equal(code, 0, stderr);
        const changed = stdout.split("\n").filter((l) => /^\s+[~+-] \S+ \S+ \((update|create|delete)[;)]/.test(l));
        assert.deepEqual(changed, ["  ~ kubernetes:networking.istio.io/v1:VirtualService bluegreen-app-virtualservice (update)"]);
        assert.match(stdout, /~ spec\.http\[2\]\.route\[0\]\.destination\.subset: "blue" => "green"/);
        assert.match(stdout, /Resources: 1 to update, \d+ unchanged/);
        assert.match(stdout, /Only VirtualService resources change/);
    });

    it("fails --expect-only when another resource would change, and still exits 0 without it", () => {
        const strict = run("plan", "--config", "activeColor=green", "--config", "blueReplicas=3", "--expect-only", "VirtualService");
        assert.equal(strict.code, 1);
        assert.match(strict.stdout, /~ kubernetes:apps\/v1:Deployment bluegreen-app-blue \(update; waits until ready\)/);
        assert.match(strict.stdout, /~ spec\.replicas: 2 => 3/);
        assert.match(strict.stderr, /--expect-only VirtualService: 1 other resource\(s\) would change: kubernetes:apps\/v1:Deployment bluegreen-app-blue/);
        const lenient = run("plan", "--config", "blueReplicas=3");
        assert.equal(lenient.code, 0, lenient.stderr);
    });

    it("refuses bad config with the program's message, a non-zero exit and nothing written", () => {
        const target = path.join(out, "fresh");
        const { code, stdout, stderr } = run("render", "--out", target, "--config", "activeColor=purple", "--config", "minNodes=9", "--config", "maxNodes=3");
        assert.equal(code, 1);
        assert.match(stderr, /activeColor: got "purple"; allowed values: blue, green/);
        assert.match(stderr, /minNodes: is 9, more than maxNodes \(3\)/);
        assert.equal(stdout, "");
        assert.equal(fs.existsSync(target), false);
        const plan = run("plan", "--config", "activeColor=Green");
        assert.equal(plan.code, 1);
        assert.match(plan.stderr, /activeColor: got "Green"/);
    });

    it("never deletes what it did not write: a user's directory survives --out, and so does a file added to a render", () => {
        const mine = path.join(out, "dev");
        fs.mkdirSync(mine);
        fs.writeFileSync(path.join(mine, "notes.md"), "my notes");
        const refused = run("render", "--out", out);
        assert.equal(refused.code, 1);
        assert.match(refused.stderr, /dev exists and was not written by npm start \(it has no \.bluegreen-render marker\); it is left untouched/);
        assert.deepEqual(fs.readdirSync(mine), ["notes.md"]);
        assert.deepEqual(fs.readdirSync(out), ["dev"], "no staging directory left behind");

        const fresh = path.join(out, "fresh");
        assert.equal(run("render", "--out", fresh).code, 0);
        fs.writeFileSync(path.join(fresh, "dev", "review.txt"), "kept");
        const again = run("render", "--out", fresh);
        assert.equal(again.code, 1);
        assert.match(again.stderr, /holds "review.txt", which npm start did not write/);
        assert.equal(fs.readFileSync(path.join(fresh, "dev", "review.txt"), "utf8"), "kept");
    });

    it("never follows a link out of --out, and refuses an --out that is a file without a stack trace", () => {
        const elsewhere = path.join(out, "elsewhere");
        fs.mkdirSync(elsewhere);
        fs.writeFileSync(path.join(elsewhere, "keep.txt"), "kept");
        const root = path.join(out, "root");
        fs.mkdirSync(root);
        fs.symlinkSync(elsewhere, path.join(root, "dev"));
        const linked = run("render", "--out", root);
        assert.equal(linked.code, 1);
        assert.match(linked.stderr, /is a symbolic link, which the renderer never follows out of --out/);
        assert.deepEqual(fs.readdirSync(elsewhere), ["keep.txt"]);
        const escape = run("render", "--out", root, "--stack", "..");
        assert.equal(escape.code, 2);
        assert.match(escape.stderr, /--stack "\.\.": allowed values/);

        const file = path.join(out, "a-file");
        fs.writeFileSync(file, "x");
        const onFile = run("render", "--out", file);
        assert.equal(onFile.code, 2);
        assert.match(onFile.stderr, /^error: --out .*a-file is a file; allowed values: a directory/);
        assert.doesNotMatch(onFile.stderr, /\n\s+at /, "no stack trace");
        assert.equal(fs.readFileSync(file, "utf8"), "x");
    });

    it("never writes a token given in an inline kubeconfig: not in any file, not on stdout or stderr", () => {
        const token = "tok-9f8e7d6c5b4a39281706";
        const kubeconfig = `apiVersion: v1\nkind: Config\nusers:\n- name: ci\n  user:\n    token: ${token}\n`;
        // The dev stack shapes a cluster; with an existing one (kubeconfig) its cluster settings go back to their defaults.
        const cluster = ["--config", "clusterName=bluegreen", "--config", "deletionProtection=auto"];
        const rendered = run("render", "--out", out, "--config", `kubeconfig=${kubeconfig}`, ...cluster);
        assert.equal(rendered.code, 0, rendered.stderr);
        const resources = JSON.parse(fs.readFileSync(path.join(out, "dev", "resources.json"), "utf8"));
        assert.equal(resources.find((r: any) => r.type === "pulumi:providers:kubernetes").inputs.kubeconfig, "[secret]");
        const planned = run("plan", "--config", `kubeconfig=${kubeconfig}`, ...cluster);
        assert.equal(planned.code, 0, planned.stderr);
        assert.match(planned.stdout, /kubeconfig=\[secret\]/);
        const written = fs.readdirSync(path.join(out, "dev")).map((f) => fs.readFileSync(path.join(out, "dev", f), "utf8"));
        for (const text of [...written, rendered.stdout, rendered.stderr, planned.stdout, planned.stderr]) {
            assert.ok(!text.includes(token), "the token never appears");
        }
    });

    it("refuses credentials inside istioChartRepository without printing them, and writes nothing", () => {
        const password = "pw-5e4d3c2b1a09";
        for (const repository of [`https://deployer:${password}@charts.example.com/istio`, `https://charts.example.com/istio?token=${password}`]) {
            const target = path.join(out, "fresh");
            const rendered = run("render", "--out", target, "--config", `istioChartRepository=${repository}`);
            assert.equal(rendered.code, 1, rendered.stderr);
            assert.match(rendered.stderr, /istioChartRepository: holds credentials .*repositoryOpts\.username and repositoryOpts\.password, set with `pulumi config set --secret`/);
            assert.equal(fs.existsSync(target), false, "nothing written");
            const planned = run("plan", "--config", `istioChartRepository=${repository}`);
            assert.equal(planned.code, 1);
            for (const text of [rendered.stdout, rendered.stderr, planned.stdout, planned.stderr]) assert.ok(!text.includes(password), text);
        }
    });

    it("refuses option keys that would vanish into an object's prototype, naming them", () => {
        for (const key of ["__proto__", "constructor", "prototype"]) {
            const planned = run("plan", "--config", `${key}=x`);
            assert.equal(planned.code, 1, `${key}: ${planned.stdout}`);
            assert.match(planned.stderr, new RegExp(`${key}: is not a setting of this project`));
        }
    });

    it("refuses a misspelt key instead of planning no change", () => {
        const typo = run("plan", "--config", "activeColour=green", "--expect-only", "VirtualService");
        assert.equal(typo.code, 1);
        assert.match(typo.stderr, /activeColour: is not a setting of this project; did you mean `activeColor`\?/);
        assert.doesNotMatch(typo.stdout, /Only VirtualService resources change/);
    });

    it("keeps the previous render when a later one fails, and reports usage errors with exit 2", () => {
        assert.equal(run("render", "--out", out).code, 0);
        const before = fs.readFileSync(path.join(out, "dev", "manifests.yaml"), "utf8");
        assert.equal(run("render", "--out", out, "--config", "hosts=[]").code, 1);
        assert.equal(fs.readFileSync(path.join(out, "dev", "manifests.yaml"), "utf8"), before);
        assert.equal(run("render", "--bogus").code, 2);
        assert.equal(run("render", "--config", "noequals").code, 2);
        const missing = run("render", "--stack", "nosuch", "--out", out);
        assert.equal(missing.code, 1);
        assert.match(missing.stderr, /no stack "nosuch"/);
        assert.match(run("render", "--help").stdout, /--stack <name>/);
        assert.match(run("plan", "--help").stdout, /--expect-only <type>/);
    });
});
