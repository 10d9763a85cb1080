import * as pulumi from "@pulumi/pulumi";

/**
 * The Pulumi package name: the provider name the Pulumi runtime derives from package.json's
 * `name`, and the first part of every component's type token.
 */
export const PACKAGE_NAME = "gke-istio-bluegreen";

/**
 * The type token of a component, `gke-istio-bluegreen:index:<Class>`: the only form a
 * multi-language component provider accepts (module `index`).
 */
export function componentType(className: string): string {
    return `${PACKAGE_NAME}:index:${className}`;
}

/**
 * The options of a component whose type token changed: the old token becomes an alias, so a stack
 * created with it adopts the component (and, through the parent chain, its children) instead of
 * replacing them.
 */
export function withPreviousType(opts: pulumi.ComponentResourceOptions | undefined, previousType: string): pulumi.ComponentResourceOptions {
    return { ...opts, aliases: [...(opts?.aliases ?? []), { type: previousType }] };
}
