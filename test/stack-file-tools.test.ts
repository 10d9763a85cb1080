// The switch workflow's stack-file edit (switch-color) and the deploy's drift warning
// (config-drift), on stack files written to os.tmpdir().
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import { configDrift, driftWarning } from "../offline/config-drift";
import { loadStackConfig } from "../offline/stack-files";
import { setActiveColor } from "../offline/switch-color";

const PROJECT = "name: gke-istio-bluegreen\nruntime: nodejs\nconfig:\n  activeColor:\n    type: string\n    default: blue\n";

describe("switch-color: the switch workflow's edit of the stack file", () => {
    let root: string;
    const stackFile = () => fs.readFileSync(path.join(root, "Pulumi.dev.yaml"), "utf8");
    const write = (text: string) => fs.writeFileSync(path.join(root, "Pulumi.dev.yaml"), text);
    beforeEach(() => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), "switch-color-"));
        fs.writeFileSync(path.join(root, "Pulumi.yaml"), PROJECT);
    });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    it("changes only the value, keeping comments, quotes and every other line", () => {
        write('# the dev stack\nconfig:\n  gke-istio-bluegreen:activeColor: "blue"  # release 41\n  gke-istio-bluegreen:hosts:\n    - a.example.com\n');
        assert.deepEqual(setActiveColor(root, "dev", "green"), { before: "blue", changed: true });
        assert.equal(stackFile(), '# the dev stack\nconfig:\n  gke-istio-bluegreen:activeColor: "green" # release 41\n  gke-istio-bluegreen:hosts:\n    - a.example.com\n');
        assert.equal(loadStackConfig("dev", {}, root)["gke-istio-bluegreen:activeColor"], "green");
    });

    it("adds the qualified key when the file relies on the Pulumi.yaml default", () => {
        write("config:\n  gke-istio-bluegreen:appName: shop\n");
        assert.deepEqual(setActiveColor(root, "dev", "green"), { before: undefined, changed: true });
        assert.deepEqual(parse(stackFile()).config, { "gke-istio-bluegreen:appName": "shop", "gke-istio-bluegreen:activeColor": "green" });
    });

    it("leaves the file untouched when the color is already set, and refuses other colors", () => {
        const text = "config:\n  gke-istio-bluegreen:activeColor: green\n";
        write(text);
        assert.deepEqual(setActiveColor(root, "dev", "green"), { before: "green", changed: false });
        assert.throws(() => setActiveColor(root, "dev", "Green"), /--color "Green": allowed values: blue, green/);
        assert.equal(stackFile(), text);
    });
});

describe("config-drift: the deploy's warning about config changed outside git", () => {
    let dir: string;
    const file = (name: string, text: string) => {
        fs.writeFileSync(path.join(dir, name), text);
        return path.join(dir, name);
    };
    before(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "config-drift-")); });
    after(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("names a switch made with `pulumi config set` + `pulumi up`, with both values", () => {
        const committed = file("committed.yaml", 'config:\n  gke-istio-bluegreen:activeColor: "green"  # release 42\n');
        const live = file("live.yaml", "config:\n  gke-istio-bluegreen:activeColor: blue\n");
        const drifts = configDrift(committed, live);
        assert.deepEqual(drifts, [{ key: "gke-istio-bluegreen:activeColor", committed: "green", live: "blue", secret: false }]);
        assert.match(driftWarning(drifts[0]), /^::warning title=Stack config changed outside git::gke-istio-bluegreen:activeColor: deployed blue, committed green\. This deploy applies the committed file and undoes it/);
    });

    it("ignores quoting, comments and order; reports encrypted values without showing them", () => {
        const committed = file("c2.yaml", "config:\n  a:x: '1'\n  a:y: two # note\n  a:k:\n    secure: AAAA\n");
        const live = file("l2.yaml", 'config:\n  a:y: "two"\n  a:x: "1"\n  a:k:\n    secure: BBBB\n');
        const drifts = configDrift(committed, live);
        assert.deepEqual(drifts, [{ key: "a:k", secret: true }]);
        assert.doesNotMatch(driftWarning(drifts[0]), /AAAA|BBBB/);
        assert.deepEqual(configDrift(committed, committed), []);
    });
});
