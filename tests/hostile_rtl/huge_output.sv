// expect: simulation: no verdict \(output limit exceeded\)
module TopModule (input [7:0] a, input [7:0] b, output [8:0] sum);
  assign sum = a + b;
  initial forever #1 $display("spam spam spam spam spam spam spam spam spam spam spam spam spam spam spam spam spam");
endmodule
