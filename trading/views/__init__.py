"""Server-rendered dashboard pages (pages) and the POST actions behind their buttons
(actions). Views stay thin: selectors read, services write."""
