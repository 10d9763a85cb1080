// The tests evaluate through the same recording mock engine as the offline tools.
export * from "../offline/engine";
