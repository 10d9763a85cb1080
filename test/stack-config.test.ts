import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { BLUE_GREEN_DEFAULTS } from "../components/blue-green-service";
import { parseExternalEndpoint } from "../components/external-services";
import { ConfigError } from "../components/validation";
import { readStackConfig } from "../components/stack-config";
import { checkHostList, checkPinnedImage } from "../components/validation";

const root = path.join(__dirname, "..");
const project = parse(fs.readFileSync(path.join(root, "Pulumi.yaml"), "utf8"));

/** A getter over plain values, as `pulumi config set` would store them (arrays as JSON). */
function getter(values: Record<string, unknown>) {
    return (key: string) => {
        const v = values[key];
        return v === undefined ? undefined : typeof v === "string" ? v : JSON.stringify(v);
    };
}

/** The ConfigError thrown for `values`, failing when none is thrown. */
function problemsFor(values: Record<string, unknown>): ConfigError {
    try {
        readStackConfig(getter(values));
    } catch (e) {
        assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
        return e;
    }
    assert.fail(`expected ${JSON.stringify(values)} to be refused`);
}

describe("stack config", () => {
    it("accepts no settings at all and applies the defaults", () => {
        const settings = readStackConfig(getter({}));
        assert.equal(settings.workload.activeColor, "blue");
        assert.deepEqual(settings.workload.colors, BLUE_GREEN_DEFAULTS.colors);
        assert.equal(settings.kubeconfig, undefined);
    });

    it("declares every setting it reads in Pulumi.yaml, with a type and description, and the same defaults", () => {
        const read = new Set<string>();
        readStackConfig((key) => { read.add(key); return undefined; });
        assert.deepEqual([...read].sort(), Object.keys(project.config).sort());
        for (const [key, decl] of Object.entries<any>(project.config)) {
            assert.ok(["string", "integer", "boolean", "array"].includes(decl.type), `${key} has a type`);
            assert.ok(decl.description, `${key} has a description`);
        }
        // Reading Pulumi.yaml's defaults gives exactly the code's defaults.
        const defaults = Object.fromEntries(Object.entries<any>(project.config).filter(([, d]) => d.default !== undefined).map(([k, d]) => [k, d.default]));
        assert.deepEqual(readStackConfig(getter(defaults)), readStackConfig(getter({ externalServices: [] })));
    });

    it("reads the example dev stack", () => {
        const stack = parse(fs.readFileSync(path.join(root, "Pulumi.dev.yaml"), "utf8")).config;
        const values = Object.fromEntries(Object.entries(stack).map(([k, v]) => [k.split(":")[1], v]));
        const settings = readStackConfig(getter(values));
        assert.equal(settings.workload.activeColor, "blue");
        assert.deepEqual(settings.workload.externalServices, [
            { name: "external-db-example-com", hosts: ["db.example.com"], ports: [{ number: 5432, protocol: "TCP" }] },
        ]);
    });

    for (const color of ["purple", "Blue", "GREEN", "", " blue"]) {
        it(`refuses activeColor=${JSON.stringify(color)}, naming the allowed values`, () => {
            const error = problemsFor({ activeColor: color });
            assert.equal(error.problems.length, 1);
            assert.equal(error.problems[0].setting, "activeColor");
            assert.match(error.message, /activeColor: got .*; allowed values: blue, green/);
        });
    }

    for (const replicas of ["abc", "-1", "1.5", "", "1e3x", "1001"]) {
        it(`refuses blueReplicas=${JSON.stringify(replicas)}`, () => {
            const error = problemsFor({ blueReplicas: replicas });
            assert.deepEqual(error.problems.map((p) => p.setting), ["blueReplicas"]);
            assert.match(error.message, /allowed values: a whole number from 0 to 1000/);
        });
    }

    it("refuses an active color scaled to zero but allows parking the idle one", () => {
        const error = problemsFor({ activeColor: "green", greenReplicas: "0" });
        assert.deepEqual(error.problems.map((p) => p.setting), ["greenReplicas"]);
        assert.match(error.message, /green is the active color/);
        assert.equal(readStackConfig(getter({ activeColor: "green", blueReplicas: "0" })).workload.colors?.blue?.replicas, 0);
    });

    it("refuses an empty host list, a non-list and invalid DNS hosts", () => {
        assert.deepEqual(problemsFor({ hosts: [] }).problems.map((p) => p.setting), ["hosts"]);
        assert.deepEqual(problemsFor({ hosts: "sample.hoge.com" }).problems.map((p) => p.setting), ["hosts"]);
        const error = problemsFor({ hosts: ["ok.example.com", "bad_host.example.com", "UPPER.example.com", "nodot", "-a.example.com"] });
        assert.deepEqual(error.problems.map((p) => p.setting), ["hosts[1]", "hosts[2]", "hosts[3]", "hosts[4]"]);
        assert.match(error.message, /hosts\[1\]: got "bad_host.example.com"; allowed values: a non-empty list of lowercase DNS names/);
    });

    it("refuses an unknown or lowercase load-balancer policy", () => {
        for (const lb of ["WEIGHTED", "round_robin", ""]) {
            assert.match(problemsFor({ loadBalancer: lb }).message, /loadBalancer: got .*; allowed values: ROUND_ROBIN, LEAST_REQUEST, RANDOM/);
        }
    });

    it("refuses unpinned images under the per-color setting name", () => {
        const error = problemsFor({ blueImage: "nginx", greenImage: "nginx:latest" });
        assert.deepEqual(error.problems.map((p) => p.setting), ["blueImage", "greenImage"]);
    });

    it("refuses bad names, header names and revisions", () => {
        const error = problemsFor({ namespace: "Sample_NS", appName: "1nginx", headerName: "X-Version", istioRevision: "1.31" });
        assert.deepEqual(error.problems.map((p) => p.setting).sort(), ["appName", "headerName", "istioRevision", "namespace"]);
    });

    it("reports every bad setting at once", () => {
        const error = problemsFor({ activeColor: "purple", greenReplicas: "-3", hosts: [], loadBalancer: "FASTEST" });
        assert.deepEqual(error.problems.map((p) => p.setting).sort(), ["activeColor", "greenReplicas", "hosts", "loadBalancer"]);
    });

    it("parses external endpoints and merges ports of one host", () => {
        const settings = readStackConfig(getter({ externalServices: ["tcp://db.example.com:5432", "tcp://db.example.com:5433", "https://api.example.com:443"] }));
        assert.deepEqual(settings.workload.externalServices, [
            { name: "external-db-example-com", hosts: ["db.example.com"], ports: [{ number: 5432, protocol: "TCP" }, { number: 5433, protocol: "TCP" }] },
            { name: "external-api-example-com", hosts: ["api.example.com"], ports: [{ number: 443, protocol: "HTTPS" }] },
        ]);
        const error = problemsFor({ externalServices: ["db.example.com:5432", "ftp://a.example.com:21", "tcp://10.0.0.1:5432", "tcp://a.example.com:70000"] });
        assert.deepEqual(error.problems.map((p) => p.setting), ["externalServices[0]", "externalServices[1]", "externalServices[2]", "externalServices[3] port"]);
    });
});

describe("validators", () => {
    it("accept pinned images and refuse latest, untagged and malformed ones", () => {
        for (const ok of ["nginx:1.27.5", "docker.io/library/nginx:1.27.5-alpine", "registry:5000/team/app:v2", `nginx@sha256:${"a".repeat(64)}`]) {
            assert.deepEqual(checkPinnedImage("image", ok), [], ok);
        }
        for (const bad of ["nginx", "nginx:latest", "registry:5000/team/app", "nginx:", "nginx@sha256:123", "", "nginx :1"]) {
            assert.equal(checkPinnedImage("image", bad).length, 1, bad);
        }
    });

    it("accept wildcard hosts and refuse duplicates", () => {
        assert.deepEqual(checkHostList("hosts", ["*.example.com"]), []);
        assert.match(checkHostList("hosts", ["a.example.com", "a.example.com"])[0].message, /more than once/);
        assert.equal(checkHostList("hosts", ["example.123"]).length, 1);
    });

    it("parse the external endpoint shorthand", () => {
        assert.deepEqual(parseExternalEndpoint("e", "mongo://m.example.com:27017").service?.ports, [{ number: 27017, protocol: "MONGO" }]);
        assert.equal(parseExternalEndpoint("e", 42).problems.length, 1);
    });
});
