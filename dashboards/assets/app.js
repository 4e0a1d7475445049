// The dashboards work without JavaScript; this only adds copy buttons.
document.addEventListener("click", function (e) {
  var id = e.target && e.target.getAttribute && e.target.getAttribute("data-copy");
  if (!id) return;
  var input = document.getElementById(id);
  input.select();
  if (navigator.clipboard) navigator.clipboard.writeText(input.value);
  e.target.textContent = "Copied";
});
