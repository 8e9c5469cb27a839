/** What the backend needs from its "dataplane", a JSON-lines file: write lines, replacing it or appending. */
export interface JsonlClient {
  /** Writes every line in one go; `append: false` replaces the file. */
  write(lines: readonly string[], options: { readonly append: boolean }): Promise<void>;
}
