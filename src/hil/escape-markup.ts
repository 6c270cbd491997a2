/** Text made safe inside XML or HTML elements and double-quoted attributes (the JUnit and HTML reports). */
export function escapeMarkup(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}
