import * as assert from "node:assert/strict";
import {
    DEFAULT_RESILIENCE,
    SAFE_RETRY_ON,
    checkDuration,
    checkMirror,
    checkResilience,
    checkTrafficHasPods,
    effectiveReplicas,
    parseTargetedRoute,
    parseTrafficWeights,
} from "../components/delivery";
import { buildVirtualServiceSpec, describeRouting, routeRequest, serviceFqdn } from "../components/routing";

const base = {
    hosts: ["sample.hoge.com"],
    gateways: ["sample-ns/nginx-gateway", "mesh"],
    serviceHost: serviceFqdn("nginx", "sample-ns"),
    servicePort: 40001,
    headerName: "x-version",
};

describe("progressive delivery (pure)", () => {
    it("splits the catch-all by weight, omits a color at 0, and keeps the header routes", () => {
        const spec = buildVirtualServiceSpec({ ...base, activeColor: "blue", trafficWeights: { blue: 90, green: 10 } });
        assert.deepEqual(routeRequest(spec, {})?.destinations, [{ subset: "blue", weight: 90 }, { subset: "green", weight: 10 }]);
        assert.deepEqual(routeRequest(spec, { headers: { "x-version": "green" } })?.destinations, [{ subset: "green", weight: 100 }]);
        const allGreen = buildVirtualServiceSpec({ ...base, activeColor: "blue", trafficWeights: { blue: 0, green: 100 } });
        assert.deepEqual(routeRequest(allGreen, {})?.destinations, [{ subset: "green", weight: 100 }]);
        assert.deepEqual(describeRouting(spec).at(-1), { when: "everything else", to: "blue 90%, green 10%" });
    });

    it("evaluates targeted routes in order after the header routes and before the catch-all", () => {
        const spec = buildVirtualServiceSpec({
            ...base, activeColor: "blue", targetedRoutes: [
                parseTargetedRoute("t", "green:header:x-internal-user=true", 0).route!,
                parseTargetedRoute("t", "blue:cookie:beta=opt-out", 1).route!,
                parseTargetedRoute("t", "green:cookie:beta=opt-in", 2).route!,
                parseTargetedRoute("t", "green:source:app=checkout", 3).route!,
                parseTargetedRoute("t", "green:header-regex:x-user=^qa-.*$", 4).route!,
            ],
        });
        assert.deepEqual(spec.http.map((r) => r.name), ["x-version-blue", "x-version-green", "target-0-green", "target-1-blue", "target-2-green", "target-3-green", "target-4-green", "default"]);
        const to = (request: Parameters<typeof routeRequest>[1]) => routeRequest(spec, request)?.route;
        assert.equal(to({ headers: { "x-internal-user": "true" } }), "target-0-green");
        assert.equal(to({ headers: { "x-internal-user": "true", "x-version": "blue" } }), "x-version-blue", "the explicit header wins");
        assert.equal(to({ headers: { cookie: "session=1; beta=opt-in; theme=dark" } }), "target-2-green");
        assert.equal(to({ headers: { cookie: "beta=opt-out" } }), "target-1-blue");
        assert.equal(to({ headers: { cookie: "notbeta=opt-in" } }), "default");
        assert.equal(to({ sourceLabels: { app: "checkout", version: "v2" } }), "target-3-green");
        assert.equal(to({ sourceLabels: { app: "cart" } }), "default");
        assert.equal(to({ headers: { "x-user": "qa-alice" } }), "target-4-green");
        assert.equal(to({ headers: { "x-user": "alice" } }), "default");
        const words = describeRouting(spec).map((r) => `${r.when} -> ${r.to}`);
        assert.ok(words.includes('header x-internal-user = "true" -> green 100%'));
        assert.ok(words.includes("in-mesh caller labelled app=checkout -> green 100%"));
        assert.ok(words.some((w) => w.startsWith("header cookie matches /") && w.endsWith("-> green 100%")));
    });

    it("mirrors a share of the catch-all to the idle color, and says so", () => {
        const spec = buildVirtualServiceSpec({ ...base, activeColor: "green", mirrorToIdle: 10 });
        const decision = routeRequest(spec, {});
        assert.deepEqual(decision?.destinations, [{ subset: "green", weight: 100 }]);
        assert.deepEqual(decision?.mirrors, [{ subset: "blue", percent: 10 }]);
        assert.equal(describeRouting(spec).at(-1)?.to, "green 100%, mirroring 10% to blue (responses discarded)");
        assert.equal(routeRequest(spec, { headers: { "x-version": "blue" } })?.mirrors.length, 0, "only the catch-all mirrors");
    });

    it("puts the timeout and retry policy on every route", () => {
        const retries = { attempts: 2, perTryTimeout: "5s", retryOn: "connect-failure,gateway-error" };
        const spec = buildVirtualServiceSpec({ ...base, activeColor: "blue", timeout: "15s", retries, targetedRoutes: [parseTargetedRoute("t", "green:header:a=b", 0).route!] });
        for (const route of spec.http) {
            assert.equal(route.timeout, "15s", route.name);
            assert.deepEqual(route.retries, retries, route.name);
        }
    });

    it("retries by default only where the request never reached the app, so a POST is never applied twice", () => {
        const conditions = DEFAULT_RESILIENCE.retries.retryOn.split(",");
        for (const c of conditions) assert.ok((SAFE_RETRY_ON as readonly string[]).includes(c), c);
        // gateway-error and 5xx include the 504 of a per-try timeout: the request may have been processed.
        for (const unsafe of ["gateway-error", "5xx", "reset", "retriable-status-codes", "unavailable"]) {
            assert.ok(!(SAFE_RETRY_ON as readonly string[]).includes(unsafe), unsafe);
        }
        assert.deepEqual(checkResilience("r", DEFAULT_RESILIENCE), []);
        // Opting in is allowed; a condition Istio does not know is not.
        const optIn = { ...DEFAULT_RESILIENCE, retries: { ...DEFAULT_RESILIENCE.retries, retryOn: "connect-failure,gateway-error,503" } };
        assert.deepEqual(checkResilience("r", optIn), []);
        const typo = { ...DEFAULT_RESILIENCE, retries: { ...DEFAULT_RESILIENCE.retries, retryOn: "connect-failure,gateway-eror" } };
        assert.match(checkResilience("r", typo)[0].message, /got "connect-failure,gateway-eror" \("gateway-eror" unknown\); allowed values: conditions Istio accepts/);
    });

    it("parses and refuses weights", () => {
        assert.deepEqual(parseTrafficWeights("w", "blue=90,green=10").weights, { blue: 90, green: 10 });
        assert.deepEqual(parseTrafficWeights("w", "green=100").weights, { green: 100 });
        for (const [bad, pattern] of [
            ["blue=90,green=20", /weights sum to 110/],
            ["blue=50,purple=50", /w: got "purple"; allowed values: blue, green/],
            ["blue=90.5,green=9.5", /<color>=<whole number> pairs summing to 100/],
            ["blue", /<color>=<whole number> pairs/],
            ["blue=-10,green=110", /<color>=<whole number>/],
        ] as const) {
            const { weights, problems } = parseTrafficWeights("w", bad);
            assert.equal(weights, undefined, bad);
            assert.match(problems.map((p) => `${p.setting}: ${p.message}`).join("\n"), pattern, bad);
        }
    });

    it("parses and refuses targeted routes", () => {
        assert.deepEqual(parseTargetedRoute("t", "green:source:app=checkout,team=pay", 0).route?.sourceLabels, { app: "checkout", team: "pay" });
        assert.deepEqual(parseTargetedRoute("t", "blue:header-regex:x-user=^qa", 1).route?.headers, { "x-user": { regex: "^qa" } });
        for (const bad of ["green", "purple:header:a=b", "green:query:a=b", "green:header:X-Upper=1", "green:header-regex:x=(", "green:source:app"]) {
            const { route, problems } = parseTargetedRoute("targetedRoutes[0]", bad, 0);
            assert.ok(problems.length > 0, bad);
            assert.equal(problems[0].setting, "targetedRoutes[0]", bad);
            if (bad === "green") assert.equal(route, undefined);
        }
    });

    it("refuses traffic to a color without pods: the active color, a weighted color, a targeted color, a mirror", () => {
        const names = (c: string) => `${c}Replicas`;
        const ok = { activeColor: "blue" as const, replicas: { blue: 2, green: 0 }, targetedRoutes: [], mirrorToIdle: 0 };
        assert.deepEqual(checkTrafficHasPods(ok, names), []);
        assert.deepEqual(checkTrafficHasPods({ ...ok, activeColor: "green" }, names).map((p) => p.setting), ["greenReplicas"]);
        const split = checkTrafficHasPods({ ...ok, trafficWeights: { blue: 90, green: 10 } }, names);
        assert.match(split[0].message, /is 0 but trafficWeights sends 10% to green/);
        assert.deepEqual(checkTrafficHasPods({ ...ok, trafficWeights: { blue: 100, green: 0 } }, names), []);
        assert.match(checkTrafficHasPods({ ...ok, targetedRoutes: [{ name: "qa", color: "green", headers: { a: { exact: "b" } } }] }, names)[0].message, /targeted route qa sends to green/);
        assert.match(checkTrafficHasPods({ ...ok, mirrorToIdle: 5 }, names)[0].message, /mirrorToIdle shadows traffic to green/);
    });

    it("refuses mirroring during a split that already sends live traffic to the idle color", () => {
        assert.deepEqual(checkMirror("m", 10, "blue"), []);
        assert.deepEqual(checkMirror("m", 10, "blue", { blue: 100 }), []);
        assert.match(checkMirror("m", 10, "blue", { blue: 90, green: 10 })[0].message, /already sends 10% of live traffic to green/);
        assert.equal(checkMirror("m", 101, "blue").length, 1);
    });

    it("sizes the idle color only", () => {
        assert.deepEqual(effectiveReplicas("blue", { blue: 3, green: 3 }, 1), { blue: 3, green: 1 });
        assert.deepEqual(effectiveReplicas("green", { blue: 3, green: 3 }, 0), { blue: 0, green: 3 });
        assert.deepEqual(effectiveReplicas("green", { blue: 3, green: 4 }), { blue: 3, green: 4 });
    });

    it("accepts Istio durations only", () => {
        for (const ok of ["15s", "500ms", "1m30s", "2h"]) assert.deepEqual(checkDuration("d", ok), [], ok);
        for (const bad of ["15", "0s", "fast", "-1s", ""]) assert.equal(checkDuration("d", bad).length, 1, bad);
    });
});
