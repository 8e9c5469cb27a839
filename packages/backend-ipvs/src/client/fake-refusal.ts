/** What the kernel refuses in a fake tool's input (the fake client fails the batch with the tool's ToolError). */
export class Refusal extends Error {}

export function refuse(message: string): never {
  throw new Refusal(message);
}
