// Any path the app does not know (the server answers it with 404).

import { h, heading, link } from "../ui.js";

export default {
  title: "Page not found",
  render() {
    return h("section", null,
      heading("Page not found"),
      h("p", null, "There is no page at this address."),
      h("p", null, link("/", "Go to the start page")));
  },
};
