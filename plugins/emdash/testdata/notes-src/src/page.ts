// Block Kit for the admin page and widget.
interface Interaction {
  type: "page_load" | "block_action" | "form_submit";
  page?: string;
  action_id?: string;
}

export async function adminAnswer(interaction: Interaction, count: number): Promise<{ blocks: unknown[] }> {
  if (interaction.type === "page_load" && interaction.page === "widget:latest") {
    return { blocks: [{ type: "stats", items: [{ label: "Notes kept", value: count }] }] };
  }
  return { blocks: [{ type: "header", text: "Notes from source" }, { type: "context", text: `${count} notes` }] };
}
