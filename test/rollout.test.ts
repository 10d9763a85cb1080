import * as assert from "node:assert/strict";
import {
    DrainActions,
    checkRolloutSettings,
    preStopHook,
    rolloutHookMessage,
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

    describe("the error hook's message: true to the failed step and to where the route stands", () => {
        const context = { resourceName: "bg", namespace: "ns", app: "nginx", beforeRoute: ["green" as const] };
        const deployment = (name: string) => ({ metadata: { name, namespace: "ns" }, spec: {} });
        const LEFT_AS_IT_WAS = /the VirtualService ns\/nginx, which waits for it, was left as it was: traffic stays where it was/;
        const ROUTE_IN_PLACE = /after the VirtualService ns\/nginx was in place, and it sends this color no traffic/;
        const NOTHING_ROUTES = /Nothing routes to it any more/;
        // [step, what the engine hands the hook (ErrorHookArgs), the message chosen, its opening].
        const cases: [string, { name: string; failedOperation: string; newInputs?: object; oldInputs?: object }, RegExp, RegExp][] = [
            ["a color to receive traffic fails to be created", { name: "bg-green", failedOperation: "create", newInputs: deployment("nginx-green") },
                LEFT_AS_IT_WAS, /^Creating Deployment ns\/nginx-green failed/],
            ["a color to receive traffic fails to update", { name: "bg-green", failedOperation: "update", newInputs: deployment("nginx-green"), oldInputs: deployment("nginx-green") },
                LEFT_AS_IT_WAS, /^Updating Deployment ns\/nginx-green failed/],
            ["a color losing traffic fails to update", { name: "bg-blue", failedOperation: "update", newInputs: deployment("nginx-blue"), oldInputs: deployment("nginx-blue") },
                ROUTE_IN_PLACE, /^Updating Deployment ns\/nginx-blue failed/],
            ["an idle color fails to be created", { name: "bg-blue", failedOperation: "create", newInputs: deployment("nginx-blue") },
                ROUTE_IN_PLACE, /^Creating Deployment ns\/nginx-blue failed/],
            // A delete carries the old inputs only, and the old object may have had another name (appName changed).
            ["a replaced Deployment fails to be deleted", { name: "bg-green", failedOperation: "delete", oldInputs: deployment("shop-green") },
                NOTHING_ROUTES, /^Deleting Deployment ns\/shop-green failed/],
            ["an idle color fails to be deleted", { name: "bg-blue", failedOperation: "delete", oldInputs: deployment("nginx-blue") },
                NOTHING_ROUTES, /^Deleting Deployment ns\/nginx-blue failed/],
        ];
        for (const [step, failure, chosen, opening] of cases) {
            it(`when ${step}`, () => {
                const message = rolloutHookMessage(failure, context);
                assert.match(message, opening);
                for (const claim of [LEFT_AS_IT_WAS, ROUTE_IN_PLACE, NOTHING_ROUTES]) {
                    if (claim === chosen) assert.match(message, claim);
                    else assert.doesNotMatch(message, claim);
                }
                assert.doesNotMatch(message, failure.failedOperation === "delete" ? /ready/ : /Deleting/);
            });
        }

        it("claims nothing about the route for a step it does not know", () => {
            const message = rolloutHookMessage({ name: "bg-green", failedOperation: "refresh" }, context);
            assert.equal(message, "The refresh step of Deployment ns/nginx-green failed; see the error above.");
        });
    });
});
