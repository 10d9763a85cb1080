import * as assert from "node:assert/strict";
import {
    DrainActions,
    checkRolloutSettings,
    preStopHook,
    rolloutFailureMessage,
    rolloutOrder,
    rolloutTimeouts,
    terminationGracePeriod,
    trafficReceivers,
} from "../components/rollout";
import { TargetedRoute } from "../components/routing";

const route = (color: "blue" | "green"): TargetedRoute => ({ name: `to-${color}`, color, headers: { "x-user": { exact: "me" } } });
const base = { activeColor: "blue" as const, targetedRoutes: [], mirrorToIdle: 0 };

describe("rollout order (pure)", () => {
    it("the active color alone receives traffic in a plain setup", () => {
        assert.deepEqual(trafficReceivers(base), ["blue"]);
        assert.deepEqual(trafficReceivers({ ...base, activeColor: "green" }), ["green"]);
        assert.deepEqual(rolloutOrder(base), { beforeRoute: ["blue"], afterRoute: ["green"] });
    });

    it("any share of the catch-all counts; a weight of 0 does not", () => {
        assert.deepEqual(trafficReceivers({ ...base, trafficWeights: { blue: 90, green: 10 } }), ["blue", "green"]);
        assert.deepEqual(trafficReceivers({ ...base, trafficWeights: { blue: 0, green: 100 } }), ["green"]);
        assert.deepEqual(rolloutOrder({ ...base, trafficWeights: { blue: 100, green: 0 } }), { beforeRoute: ["blue"], afterRoute: ["green"] });
    });

    it("a targeted rule or the mirror makes the idle color a receiver", () => {
        assert.deepEqual(trafficReceivers({ ...base, targetedRoutes: [route("green")] }), ["blue", "green"]);
        assert.deepEqual(trafficReceivers({ ...base, mirrorToIdle: 5 }), ["blue", "green"]);
        assert.deepEqual(trafficReceivers({ ...base, activeColor: "green", mirrorToIdle: 5 }), ["blue", "green"]);
        assert.deepEqual(trafficReceivers({ ...base, activeColor: "green", targetedRoutes: [route("green")] }), ["green"]);
    });

    it("drains with the kubelet's sleep action, or an exec sleep, and a grace period longer than the drain", () => {
        assert.deepEqual(preStopHook({ delaySeconds: 30, action: DrainActions.Sleep }), { sleep: { seconds: 30 } });
        assert.deepEqual(preStopHook({ delaySeconds: 12, action: DrainActions.Exec }), { exec: { command: ["/bin/sleep", "12"] } });
        assert.equal(preStopHook({ delaySeconds: 0, action: DrainActions.Sleep }), undefined);
        for (const delaySeconds of [0, 1, 30, 600]) {
            assert.ok(terminationGracePeriod({ delaySeconds, action: DrainActions.Sleep }) > delaySeconds);
        }
    });

    it("turns the rollout timeout into the provider's customTimeouts", () => {
        assert.deepEqual(rolloutTimeouts(600), { create: "600s", update: "600s" });
    });

    it("refuses drain and timeout settings outside their ranges, naming the setting and the allowed values", () => {
        const names = { delay: "drainDelaySeconds", action: "drainAction", timeout: "rolloutTimeoutSeconds" };
        assert.deepEqual(checkRolloutSettings({ delaySeconds: 30, action: "sleep" }, 600, names), []);
        const problems = checkRolloutSettings({ delaySeconds: -1, action: "nap" as never }, 5, names);
        assert.deepEqual(problems.map((p) => p.setting), ["drainDelaySeconds", "drainAction", "rolloutTimeoutSeconds"]);
        assert.match(problems[1].message, /allowed values: sleep, exec/);
        assert.match(problems[2].message, /from 10 to 7200/);
    });

    it("says the route was left as it was when a color that was to receive traffic fails", () => {
        assert.match(rolloutFailureMessage("ns/nginx-green", "ns/nginx", true), /VirtualService ns\/nginx was left as it was/);
        assert.match(rolloutFailureMessage("ns/nginx-blue", "ns/nginx", false), /had already moved traffic away/);
    });
});
