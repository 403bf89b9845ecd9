// Proves node_modules made it into the image: server.js imports this by package name.
export function greet(name) {
  return `Hello from ${name}!`;
}
