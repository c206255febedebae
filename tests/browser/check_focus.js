// Evaluated by the browser tests: describe the focused element and whether its focus is visible
// (an outline or box-shadow drawn by the :focus-visible style).
() => {
  const el = document.activeElement;
  if (!el || el === document.body) {
    return { tag: "body", visible: false, text: "", id: "" };
  }
  const style = window.getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
  const shadow = style.boxShadow && style.boxShadow !== "none";
  return {
    tag: el.tagName.toLowerCase(),
    id: el.id || "",
    name: el.getAttribute("name") || "",
    text: (el.innerText || el.value || el.getAttribute("aria-label") || "").trim().slice(0, 80),
    focusVisible: el.matches(":focus-visible"),
    visible: el.matches(":focus-visible") && (outline || shadow),
  };
}
