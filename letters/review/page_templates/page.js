// Keyboard shortcuts of the review page (listed in its footer and in the README).
"use strict";

function act(selector, how) {
  const element = document.querySelector(selector);
  if (!element || element.disabled) {
    return false;
  }
  if (how === "focus") {
    element.focus();
  } else {
    element.click();
  }
  return true;
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) {
    return;
  }
  const target = event.target;
  if (target instanceof HTMLElement && target.closest("input, select, textarea")) {
    if (event.key === "Escape") {
      target.blur();
    } else if (event.key === "Enter" && target.id === "address") {
      event.preventDefault();
      act("#decide-address");
    }
    return;
  }
  const keys = { n: ["#next"], p: ["#prev"], l: ["#leave"], a: ["#address", "focus"],
    m: ["#reason", "focus"], r: ["#reviewer", "focus"] };
  let done = false;
  if (/^[1-9]$/.test(event.key)) {
    done = act(`button[data-key="${event.key}"]`);
  } else if (keys[event.key]) {
    done = act(...keys[event.key]);
  }
  if (done) {
    event.preventDefault();
  }
});
