package manifest

// The admin block vocabulary (SPEC §11): what a plugin's private "admin"
// route answers for its pages, widgets and actions. web/admin decodes and
// renders exactly these types (a test there keeps its table equal to this
// one), and plugins/authoring declares them in pilcrow.d.ts from the
// Typings here, with AdminTypings for the request and the answer.

// BlockSpec is one block type.
type BlockSpec struct {
	// Type is the block's "type" member.
	Type string
	// Interface is the TypeScript interface Typings declares for it.
	Interface string
	Typings   string
}

var blockTable = []BlockSpec{
	{Type: "header", Interface: "HeaderBlock", Typings: `
  /** A heading. */
  interface HeaderBlock {
    type: "header";
    text: string;
  }
`},
	{Type: "text", Interface: "TextBlock", Typings: `
  /**
   * Text: blank lines separate paragraphs, a single newline breaks the line,
   * and a Markdown subset is rendered: **bold**, *italic* or _italic_,
   * ` + "`code`" + ` and [label](href) with a same-site path, an http(s) URL or
   * mailto: (any other link stays text). Everything else is shown as typed:
   * the host escapes it, so markup never becomes HTML.
   */
  interface TextBlock {
    type: "text";
    text: string;
  }
`},
	{Type: "fields", Interface: "FieldsBlock", Typings: `
  /** Label and value pairs. Values are shown as text (objects as JSON). */
  interface FieldsBlock {
    type: "fields";
    /** 1 to 50 items. */
    items: Array<{ label: string; value: JSONValue | undefined }>;
  }
`},
	{Type: "table", Interface: "TableBlock", Typings: `
  /**
   * A table: each row's value under a column's key is shown as text. With
   * nextCursor the host adds a "Next page" link to the same page whose query
   * carries cursor=<nextCursor> (and the other query values).
   */
  interface TableBlock {
    type: "table";
    /** 1 to 20 columns. */
    columns: Array<{ key: string; label: string }>;
    /** At most 200 rows. */
    rows: Array<{ [key: string]: JSONValue | undefined }>;
    nextCursor?: string;
  }
`},
	{Type: "stats", Interface: "StatsBlock", Typings: `
  /** Big numbers with labels, and an optional short trend ("+3", "-2 %"). */
  interface StatsBlock {
    type: "stats";
    /** 1 to 50 items. */
    items: Array<{ label: string; value: JSONValue | undefined; trend?: string }>;
  }
`},
	{Type: "divider", Interface: "DividerBlock", Typings: `
  /** A horizontal rule. */
  interface DividerBlock {
    type: "divider";
  }
`},
	{Type: "form", Interface: "FormBlock", Typings: `
  /** One input of a form; name is letters, digits, _ or - and unique in the form. */
  type FormInput =
    | { type: "text" | "textarea" | "date"; name: string; label: string; value?: string }
    | { type: "number"; name: string; label: string; value?: number }
    | { type: "toggle"; name: string; label: string; value?: boolean }
    | { type: "select"; name: string; label: string; value?: string; options: Array<{ label: string; value: string }> };

  /**
   * A form. Submitting it calls the admin route with {type: "action",
   * actionId: submit.actionId, values}: numbers as numbers (null when
   * empty), toggles as booleans, the rest as strings.
   */
  interface FormBlock {
    type: "form";
    id: string;
    /** At most 50 inputs. */
    inputs: FormInput[];
    submit: { label: string; actionId: string };
  }
`},
	{Type: "button", Interface: "ButtonBlock", Typings: `
  /** A button that calls the admin route with {type: "action", actionId, values: {value}}. */
  interface ButtonBlock {
    type: "button";
    label: string;
    actionId: string;
    style?: "primary" | "danger";
    /** Sent as values.value, so one action can serve a button per row (at most 1024 bytes). */
    value?: string;
  }
`},
	{Type: "link", Interface: "LinkBlock", Typings: `
  /** A link to a same-site path ("/admin/…") or an https:// URL. */
  interface LinkBlock {
    type: "link";
    label: string;
    href: string;
  }
`},
}

// Blocks returns the block table. The rows are shared: callers must not
// modify them.
func Blocks() []BlockSpec { return blockTable }

// AdminTypings declares what the admin route receives and answers; the
// Block union of every BlockSpec is written after it by the generator.
const AdminTypings = `
  /** The body of a request to the admin route: which page, widget or action the host renders. */
  type AdminRequest = AdminPageRequest | AdminWidgetRequest | AdminActionRequest;

  /** A page of manifest.admin.pages, shown at /admin/plugins/<plugin id><path>. */
  interface AdminPageRequest {
    readonly type: "page";
    readonly path: string;
    /** The page URL's query (first values): a table's cursor, a filter. */
    readonly query: { readonly [name: string]: string };
  }

  /** A widget of manifest.admin.widgets, shown on the dashboard. */
  interface AdminWidgetRequest {
    readonly type: "widget";
    readonly id: string;
    readonly query: { readonly [name: string]: string };
  }

  /** A form submitted or a button pressed on a page (path) or a widget (widget). */
  interface AdminActionRequest {
    readonly type: "action";
    readonly actionId: string;
    readonly values: { readonly [name: string]: string | number | boolean | null };
    readonly path?: string;
    readonly widget?: string;
    readonly query: { readonly [name: string]: string };
  }

  /** A request to the admin route: a route request whose body is an AdminRequest. */
  type AdminRouteRequest = Omit<RouteRequest, "body"> & { readonly body: AdminRequest };

  /**
   * What the admin route answers. A block the host does not know, or one
   * that fails its checks, is dropped with a line in the plugin's log; the
   * rest still render. An action answered with only a toast shows the page
   * again with the toast.
   */
  interface AdminAnswer {
    blocks: Block[];
    toast?: string | { message: string };
  }

  type AdminRouteHandler = (request: AdminRouteRequest, ctx: Context) => MaybePromise<AdminAnswer | RouteResponse>;
`
