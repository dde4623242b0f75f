package spec

import "github.com/lightkeeper/lightkeeper/schema"

// Text as shown in messages.

// visible quotes s for a message so that nothing in it is invisible (see
// schema.Quote).
func visible(s string) string { return schema.Quote(s) }
