// 「表示中のすべてを選ぶ」: a checkbox with data-select-all="<class>" checks or clears every box of that class.
document.addEventListener("change", function (event) {
  var box = event.target;
  if (!box.matches || !box.matches("input[data-select-all]")) return;
  document.querySelectorAll("input." + box.getAttribute("data-select-all")).forEach(function (other) {
    other.checked = box.checked;
  });
});
