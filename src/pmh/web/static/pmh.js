// pmh's page behaviour, kept out of the HTML so that the Content-Security-Policy allows no inline script.
"use strict";

document.addEventListener("click", (event) => {
  const target = event.target instanceof Element ? event.target.closest("[data-print]") : null;
  if (target) {
    window.print();
  }
});

// A form with a [data-select-submit] button enables it only while one of its "selected" boxes is ticked.
document.addEventListener("change", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || box.name !== "selected" || !box.form) {
    return;
  }
  const submit = box.form.querySelector("[data-select-submit]");
  if (submit) {
    submit.disabled = !box.form.querySelector("input[name=selected]:checked");
  }
});

// A form with [data-confirm] asks before it is sent (e.g. withdrawing a consent on the resident's page).
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
