// "Tick all" boxes of the bulk forms (approvals, alerts). The only script the console loads.
document.addEventListener("change", (e) => {
  const box = e.target;
  if (!box.matches("input[type=checkbox][data-all]")) return;
  for (const b of box.form.querySelectorAll(`input[type=checkbox][name="${box.dataset.all}"]`)) b.checked = box.checked;
});
