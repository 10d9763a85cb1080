import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { PackedTarball } from "../offline/pack";
import { PackedConsumer, installPacked, linkDependency, packWorkingTree } from "../offline/packed-consumer";

const root = path.join(__dirname, "..");
const tsc = path.join(root, "node_modules", "typescript", "bin", "tsc");
const examples = path.join(root, "examples");
const VIRTUAL_SERVICE = "kubernetes:networking.istio.io/v1:VirtualService";

/**
 * Runs the example's compiled program (bin/index.js) under the SDK's plain mocks, as a consumer's
 * own test would: no shim. Config comes in as `pulumi config set` would put it; the mocks report the
 * few outputs the program reads from real resources. Prints what was registered, or the failure.
 */
const RUNNER = `
const pulumi = require("@pulumi/pulumi");
const [project, config] = [process.argv[2], JSON.parse(process.argv[3])];
const registered = [];
// Outputs the program reads that only a real provider reports: the cluster's endpoint and CA, a Helm release's status.
const OUTPUTS = {
    "gcp:container/cluster:Cluster": () => ({ endpoint: "203.0.113.10", masterAuth: { clusterCaCertificate: "Q0E=" } }),
    "kubernetes:helm.sh/v3:Release": (inputs) => ({ status: { name: inputs.name, namespace: inputs.namespace, status: "deployed" } }),
};
let failure;
process.on("unhandledRejection", (e) => { failure = failure ?? e; });
pulumi.runtime.setMocks({
    newResource: (args) => {
        registered.push({ type: args.type, name: args.name, inputs: args.inputs });
        const outputs = OUTPUTS[args.type] ? OUTPUTS[args.type](args.inputs) : {};
        return { id: args.name + "-id", state: { ...args.inputs, ...outputs } };
    },
    call: (args) => args.inputs,
}, project, "dev", false).then(async () => {
    pulumi.runtime.setAllConfig(Object.fromEntries(Object.entries(config).map(([k, v]) => [k.includes(":") ? k : project + ":" + k, String(v)])));
    await pulumi.runtime.runInPulumiStack(async () => require("./bin/index.js")).catch((e) => { failure = failure ?? e; });
    await pulumi.runtime.waitForRPCs().catch((e) => { failure = failure ?? e; });
    process.stdout.write(JSON.stringify({ registered, failure: failure && String(failure.message ?? failure) }));
});
`;

interface Registered { type: string; name: string; inputs: any }
interface Run { registered: Registered[]; failure?: string }

/** An example copied into a consumer project that has the packed package and the example's own dependencies. */
class ExampleProject {
    readonly manifest: any;
    readonly project: string;
    readonly consumer: PackedConsumer;

    constructor(readonly name: string, packed: PackedTarball, withheld: string[] = []) {
        const source = path.join(examples, name);
        this.manifest = JSON.parse(fs.readFileSync(path.join(source, "package.json"), "utf8"));
        this.project = parse(fs.readFileSync(path.join(source, "Pulumi.yaml"), "utf8")).name;
        const own = [...Object.keys(this.manifest.dependencies), ...Object.keys(this.manifest.devDependencies)]
            .filter((dep) => dep !== packed.name && dep !== "typescript" && !withheld.includes(dep));
        this.consumer = installPacked(packed, root, own);
        for (const file of fs.readdirSync(source).filter((f) => !["node_modules", "bin"].includes(f))) {
            fs.copyFileSync(path.join(source, file), path.join(this.consumer.dir, file));
        }
        fs.writeFileSync(path.join(this.consumer.dir, "run.js"), RUNNER);
    }

    private compiled = false;

    /** Type-checks the example with its own tsconfig and compiles it to bin/; throws tsc's output on an error. */
    compile(): void {
        if (this.compiled) return;
        try {
            execFileSync(process.execPath, [tsc, "-p", path.join(this.consumer.dir, "tsconfig.json")], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
        } catch (e) {
            throw new Error(`tsc failed for examples/${this.name}: ${(e as { stdout?: string }).stdout}`);
        }
        this.compiled = true;
    }

    /** Runs the compiled program under plain mocks with these config values (bare keys are the project's). */
    run(config: Record<string, string | boolean>): Run {
        this.compile();
        const result = spawnSync(process.execPath, ["run.js", this.project, JSON.stringify(config)], { cwd: this.consumer.dir, encoding: "utf8", timeout: 120_000 });
        assert.equal(result.status, 0, result.stderr);
        return JSON.parse(result.stdout);
    }

    /** Links a dependency the project was created without, as `npm install <dep>` would add it. */
    install(dep: string): void {
        linkDependency(root, this.consumer.dir, dep);
    }

    remove(): void {
        fs.rmSync(this.consumer.dir, { recursive: true, force: true });
    }
}

/** The resources whose inputs differ between two runs, as `type name`; the two runs must declare the same resources. */
function changedBetween(a: Run, b: Run): string[] {
    const key = (r: Registered) => `${r.type} ${r.name}`;
    assert.deepEqual(b.registered.map(key).sort(), a.registered.map(key).sort(), "the same resources either way");
    const before = new Map(a.registered.map((r) => [key(r), JSON.stringify(r.inputs)]));
    return b.registered.filter((r) => before.get(key(r)) !== JSON.stringify(r.inputs)).map(key);
}

/** The color the VirtualService's catch-all route (the last, without a match) sends ordinary traffic to. */
function catchAllColor(run: Run): string {
    const vs = run.registered.find((r) => r.type === VIRTUAL_SERVICE);
    assert.ok(vs, "a VirtualService is declared");
    const catchAll = vs.inputs.spec.http.filter((route: any) => !route.match).at(-1);
    assert.equal(catchAll.route.length, 1, "all ordinary traffic to one color");
    return catchAll.route[0].destination.subset;
}

/** The example's imports, from its index.ts. */
function importsOf(name: string): string[] {
    const source = fs.readFileSync(path.join(examples, name, "index.ts"), "utf8");
    return [...source.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
}

describe("examples/ (type-checked and run under plain mocks against the packed package)", function () {
    this.timeout(600_000);
    let packDir: string;
    let packed: PackedTarball;
    const projects: ExampleProject[] = [];

    before(() => {
        packDir = fs.mkdtempSync(path.join(os.tmpdir(), "bluegreen-tarball-"));
        packed = packWorkingTree(root, packDir);
    });
    after(() => {
        for (const p of projects) p.remove();
        if (packDir) fs.rmSync(packDir, { recursive: true, force: true });
    });

    it("each declares what it imports and installs the tarball `npm run tarball` writes at the repository root", () => {
        const version = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")).version;
        const names = fs.readdirSync(examples, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
        assert.deepEqual(names.sort(), ["gke-environment", "workload-only"]);
        for (const name of names) {
            const manifest = JSON.parse(fs.readFileSync(path.join(examples, name, "package.json"), "utf8"));
            for (const imported of importsOf(name)) assert.ok(imported in manifest.dependencies, `examples/${name} depends on ${imported}`);
            assert.equal(manifest.dependencies["gke-istio-bluegreen"], `file:../../gke-istio-bluegreen-${version}.tgz`, name);
            assert.ok(fs.existsSync(path.join(examples, name, "Pulumi.yaml")) && fs.existsSync(path.join(examples, name, "tsconfig.json")), name);
        }
    });

    describe("workload-only: BlueGreenService on an existing cluster", () => {
        let example: ExampleProject;
        before(() => {
            example = new ExampleProject("workload-only", packed);
            projects.push(example);
        });

        it("neither depends on nor installs @pulumi/gcp, and type-checks without it", () => {
            assert.equal(example.manifest.dependencies["@pulumi/gcp"], undefined);
            assert.throws(() => require.resolve("@pulumi/gcp", { paths: [example.consumer.dir] }), /Cannot find module/);
            example.compile();
        });

        it("reads activeColor from the stack config: switching it changes the VirtualService and nothing else", () => {
            const blue = example.run({ activeColor: "blue", blueImage: "nginx:1.27.5", greenImage: "nginx:1.28.0", host: "shop.example.com" });
            const green = example.run({ activeColor: "green", blueImage: "nginx:1.27.5", greenImage: "nginx:1.28.0", host: "shop.example.com" });
            for (const run of [blue, green]) {
                assert.equal(run.failure, undefined, "runs under plain setMocks");
                assert.ok(!run.registered.some((r) => r.type.startsWith("gcp:")), "no GCP resource");
                const deployments = run.registered.filter((r) => r.type === "kubernetes:apps/v1:Deployment");
                assert.deepEqual(deployments.map((d) => d.inputs.spec.template.spec.containers[0].image).sort(), ["nginx:1.27.5", "nginx:1.28.0"]);
                assert.deepEqual(run.registered.find((r) => r.type === VIRTUAL_SERVICE)!.inputs.spec.hosts.filter((h: string) => !h.includes(".svc.")), ["shop.example.com"]);
                assert.deepEqual(run.registered.find((r) => r.type === "kubernetes:networking.istio.io/v1:Gateway")!.inputs.spec.selector, { istio: "ingress" });
            }
            assert.equal(catchAllColor(blue), "blue");
            assert.equal(catchAllColor(green), "green");
            assert.deepEqual(changedBetween(blue, green), [`${VIRTUAL_SERVICE} shop-virtualservice`]);
        });
    });

    describe("gke-environment: BlueGreenEnvironment with a GKE cluster", () => {
        let example: ExampleProject;
        const config = { "gcp:project": "shop-prod-123", activeColor: "blue", location: "europe-west1-b", clusterName: "shop", deletionProtection: true, host: "shop.example.com" };
        before(() => {
            example = new ExampleProject("gke-environment", packed, ["@pulumi/gcp"]);
            projects.push(example);
        });

        it("type-checks without @pulumi/gcp, and run without it says to install it before declaring anything", () => {
            example.compile();
            const run = example.run(config);
            assert.match(run.failure ?? "", /needs @pulumi\/gcp, an optional peer dependency of gke-istio-bluegreen: run "npm install @pulumi\/gcp@'\^9\.\d+\.\d+'"/);
            assert.deepEqual(run.registered.filter((r) => !r.type.startsWith("pulumi:")), [], "nothing declared");
        });

        it("with @pulumi/gcp installed: the cluster, Istio and the workload; activeColor from config changes only the VirtualService", () => {
            example.install("@pulumi/gcp");
            const blue = example.run(config);
            const green = example.run({ ...config, activeColor: "green" });
            for (const run of [blue, green]) {
                assert.equal(run.failure, undefined, "runs under plain setMocks");
                const cluster = run.registered.find((r) => r.type === "gcp:container/cluster:Cluster");
                assert.equal(cluster?.inputs.project, "shop-prod-123", "gcp:project from the stack config");
                assert.equal(cluster?.inputs.location, "europe-west1-b");
                assert.equal(cluster?.inputs.deletionProtection, true);
                assert.ok(run.registered.some((r) => r.type === "gcp:container/nodePool:NodePool"));
                const charts = run.registered.filter((r) => r.type === "kubernetes:helm.sh/v3:Release").map((r) => r.inputs.chart).sort();
                assert.deepEqual(charts, ["base", "cni", "gateway", "istiod"]);
                assert.equal(run.registered.filter((r) => r.type === "kubernetes:apps/v1:Deployment").length, 2);
            }
            assert.equal(catchAllColor(blue), "blue");
            assert.equal(catchAllColor(green), "green");
            assert.deepEqual(changedBetween(blue, green), [`${VIRTUAL_SERVICE} shop-app-virtualservice`]);
        });
    });
});
