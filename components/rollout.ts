// Make-before-break within one `pulumi up`: which colors receive traffic decides the dependency
// graph (the route waits for them; the colors that lose traffic wait for the route), and each pod
// keeps serving for a drain delay after it is told to stop. Pure logic; the component wires it.
import type { ErrorHookArgs } from "@pulumi/pulumi";
import { COLORS, Color, TargetedRoute, catchAllSplit, otherColor } from "./routing";
import { ConfigProblem, checkInteger, checkOneOf } from "./validation";

/** How a pod waits before it stops: the Kubernetes `sleep` lifecycle action, or `sleep` run in the app container. */
export const DrainAction = {
    /** The kubelet's own `preStop.sleep` (Kubernetes 1.30+, on by default; GA in 1.34). Needs nothing in the image. */
    Sleep: "sleep",
    /** `preStop.exec` running `/bin/sleep` in the app container: older clusters; the image must ship `sleep` (nginx does). */
    Exec: "exec",
} as const;
/** How a pod waits before it stops. */
export type DrainAction = (typeof DrainAction)[keyof typeof DrainAction];
/** The drain actions by name (the name earlier releases exported). */
export const DrainActions = DrainAction;
/** Every drain action, for validation messages. */
export const DRAIN_ACTIONS: readonly DrainAction[] = Object.values(DrainAction);

/** Seconds a terminating pod keeps serving: Istio needs seconds to push an endpoint change to every proxy (Argo Rollouts waits 30 s). */
export const DEFAULT_DRAIN_DELAY_SECONDS = 30;
/** The Kubernetes provider's own default await for a Deployment rollout (10 minutes). */
export const DEFAULT_ROLLOUT_TIMEOUT_SECONDS = 600;
/** Time after the drain for nginx to finish in-flight requests and for the sidecar to drain (its default is 5 s). */
export const SHUTDOWN_GRACE_SECONDS = 15;

/** What decides who receives traffic: all plain values, known before anything is declared. */
export interface TrafficSettings {
    /** The color the catch-all sends ordinary traffic to (without weights). */
    activeColor: Color;
    /** The catch-all's weighted split, when set. */
    trafficWeights?: Partial<Record<Color, number>>;
    /** Rules sending chosen requests to a color. */
    targetedRoutes: TargetedRoute[];
    /** Share of catch-all traffic shadowed to the idle color. */
    mirrorToIdle: number;
}

/** Who sends a color traffic, as read from the settings. */
export interface TrafficSource {
    /** The color that receives it. */
    color: Color;
    /** The setting and what it does, for messages (`trafficWeights sends 10% to green`). */
    why: string;
    /** Whether the color answers the requests (false for the mirror, whose responses are discarded). */
    serves: boolean;
}

/** Every source of traffic to a color: a share of the catch-all (the active color or the split), a targeted rule, the mirror. */
export function trafficSources(settings: TrafficSettings): TrafficSource[] {
    const idle = otherColor(settings.activeColor);
    return [
        ...catchAllSplit(settings.activeColor, settings.trafficWeights).map(({ color }) => ({
            color,
            why: settings.trafficWeights ? `trafficWeights sends ${settings.trafficWeights[color]}% to ${color}` : `${color} is the active color`,
            serves: true,
        })),
        ...settings.targetedRoutes.map((route) => ({ color: route.color, why: `targeted route ${route.name} sends to ${route.color}`, serves: true })),
        ...(settings.mirrorToIdle > 0 ? [{ color: idle, why: `mirrorToIdle shadows traffic to ${idle}`, serves: false }] : []),
    ];
}

/**
 * The colors that receive traffic: any share of the catch-all, a targeted rule, or the mirror.
 * The `x-version` header routes do not count: they exist to test the idle color.
 */
export function trafficReceivers(settings: TrafficSettings): Color[] {
    const receiving = new Set(trafficSources(settings).map((s) => s.color));
    return COLORS.filter((color) => receiving.has(color));
}

/**
 * The order of one `pulumi up`: the VirtualService waits for every color that receives traffic
 * (rolled out and ready first); every other color waits for the VirtualService (it stops or changes
 * only after the route has moved away from it).
 */
export function rolloutOrder(settings: TrafficSettings): { beforeRoute: Color[]; afterRoute: Color[] } {
    const beforeRoute = trafficReceivers(settings);
    return { beforeRoute, afterRoute: COLORS.filter((color) => !beforeRoute.includes(color)) };
}

/** How pods drain and how long a rollout may take. */
export interface DrainSettings {
    /** Seconds a terminating pod keeps serving before it is signalled to stop; 0 turns the delay off. */
    delaySeconds: number;
    /** How the delay is implemented. */
    action: DrainAction;
}

/** Checks the drain and rollout settings. */
export function checkRolloutSettings(drain: DrainSettings, rolloutTimeoutSeconds: number, names: {
    delay: string; action: string; timeout: string;
}): ConfigProblem[] {
    return [
        ...checkInteger(names.delay, drain.delaySeconds, 0, 600),
        ...checkOneOf(names.action, drain.action, DRAIN_ACTIONS),
        ...checkInteger(names.timeout, rolloutTimeoutSeconds, 10, 7200),
    ];
}

/** The pod's grace period: the drain delay plus time for nginx and its sidecar to shut down. */
export function terminationGracePeriod(drain: DrainSettings): number {
    return drain.delaySeconds + SHUTDOWN_GRACE_SECONDS;
}

/** The app container's preStop hook, or undefined when the delay is off. */
export function preStopHook(drain: DrainSettings): { sleep: { seconds: number } } | { exec: { command: string[] } } | undefined {
    if (drain.delaySeconds === 0) return undefined;
    return drain.action === DrainActions.Sleep
        ? { sleep: { seconds: drain.delaySeconds } }
        : { exec: { command: ["/bin/sleep", String(drain.delaySeconds)] } };
}

/** The provider's await timeouts for a Deployment: a rollout not ready by then fails the update. */
export function rolloutTimeouts(seconds: number): { create: string; update: string } {
    return { create: `${seconds}s`, update: `${seconds}s` };
}

/** What the error hook learns about a failed step of a color's Deployment. */
export interface RolloutFailure {
    /** The step that failed, as the engine names it (ErrorHookArgs.failedOperation): create, update or delete. */
    operation: string;
    /** The Deployment, `<namespace>/<name>`. */
    deployment: string;
    /** The VirtualService, `<namespace>/<name>`. */
    virtualService: string;
    /** Whether the color receives traffic after this update, so that the route waits for it. */
    beforeRoute: boolean;
}

/**
 * What the program says when a step of a Deployment fails, true to where the step stood in the
 * order: a color that is to receive traffic is created or updated before the route changes (the
 * route was left as it was); any other color after it (the route, in place, sends it nothing); and
 * a deletion comes when nothing routes to the Deployment any more (the route sends it nothing, or
 * is gone already).
 */
export function rolloutFailureMessage(failure: RolloutFailure): string {
    const { deployment, virtualService } = failure;
    if (failure.operation === "delete") {
        return `Deleting Deployment ${deployment} failed. Nothing routes to it any more (the VirtualService ${virtualService} sends it no traffic, or is gone), ` +
            "so clients are unaffected, but its pods may still run: check them, then run the same pulumi command again.";
    }
    if (failure.operation !== "create" && failure.operation !== "update") {
        return `The ${failure.operation} step of Deployment ${deployment} failed; see the error above.`;
    }
    const step = failure.operation === "create" ? "Creating" : "Updating";
    return failure.beforeRoute
        ? `${step} Deployment ${deployment} failed (refused, or its pods did not become ready in time), so the VirtualService ${virtualService}, ` +
            "which waits for it, was left as it was: traffic stays where it was. Fix the color (image, config) and run pulumi up again, or revert the change."
        : `${step} Deployment ${deployment} failed after the VirtualService ${virtualService} was in place, and it sends this color no traffic: ` +
            "routing is as configured. Fix the color and run pulumi up again.";
}

/** Where the error hook's Deployments stand: enough to name them and to place them in this update's order. */
export interface RolloutHookContext {
    /** The component's resource name: each color's Deployment is the resource `<name>-<color>`. */
    resourceName: string;
    /** The workload namespace. */
    namespace: string;
    /** The app name: Deployments `<app>-<color>`, the VirtualService `<app>`. */
    app: string;
    /** The colors that receive traffic after this update (created or updated before the route). */
    beforeRoute: Color[];
}

/**
 * The message for a failed step, from what the engine hands the error hook (ErrorHookArgs: a
 * create carries new inputs, an update old and new ones, a delete old ones only). A delete names
 * the object it deleted, whose name may differ from the one declared now (appName changed).
 */
export function rolloutHookMessage(failure: Pick<ErrorHookArgs, "name" | "failedOperation" | "newInputs" | "oldInputs">, context: RolloutHookContext): string {
    const color = COLORS.find((c) => failure.name === `${context.resourceName}-${c}`);
    // A delete carries only the old inputs: the object it deleted.
    const inputs = failure.newInputs ?? failure.oldInputs;
    const { namespace, name } = inputs?.metadata ?? {};
    return rolloutFailureMessage({
        operation: failure.failedOperation,
        deployment: typeof namespace === "string" && typeof name === "string" ? `${namespace}/${name}` : `${context.namespace}/${context.app}-${color ?? failure.name}`,
        virtualService: `${context.namespace}/${context.app}`,
        beforeRoute: color !== undefined && context.beforeRoute.includes(color),
    });
}
